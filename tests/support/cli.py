"""Checks on a command's result (typer's CliRunner) shared by CLI tests."""

from __future__ import annotations


def no_traceback(result) -> None:
    """The command ended with its own words: no traceback printed, no exception but its exit."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
