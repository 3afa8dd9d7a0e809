"""Answers from the events: hints offline and from Elasticsearch; automation (API input, commands, workflows, policies, scripts)."""
