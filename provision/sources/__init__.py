"""Where events come from: local folders, S3 buckets (layout, download, state), and the filters that decide which count."""
