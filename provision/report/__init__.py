"""Hints as output: text tables, JSON/CSV/Markdown, the self-contained HTML report and its charts, automation sections and script files."""
