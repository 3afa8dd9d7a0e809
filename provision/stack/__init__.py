"""The local stack and Kibana: Compose, health waits, the Kibana client and saved objects, up/down/status."""
