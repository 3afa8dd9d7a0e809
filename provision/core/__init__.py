"""The bottom layer: errors, settings, wording, signals, and the Elasticsearch connection. Imports nothing else from provision."""
