"""The ctstack command line: commands over library calls, the option vocabulary, terminal rendering."""

from provision.cli.commands import app, main

__all__ = ["app", "main"]
