"""The seeded demo trail: a busy organisation's everyday traffic plus 90 days of repeated console work."""
