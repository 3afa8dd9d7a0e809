"""Errors that reach the user as one clear sentence (the CLI prints them, no traceback)."""


class CtstackError(Exception):
    """A failure the user can act on. ``str(err)`` is the sentence shown to them."""

    exit_code: int = 1
