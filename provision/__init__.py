"""ctstack: AWS CloudTrail logs into Elasticsearch and Kibana, to find console work worth automating."""

__version__ = "0.1.0"
