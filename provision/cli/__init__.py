"""The ctstack command line: commands (commands.py) over library calls, the option vocabulary
(vocabulary.py), terminal text (render.py)."""

from provision.cli.commands import app, main

__all__ = ["app", "main"]
