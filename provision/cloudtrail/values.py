"""How a value from an event becomes a document field's value: keyword text, a boolean."""

from __future__ import annotations

from typing import Any

import orjson


def keyword_text(value: Any) -> str | None:
    """A keyword value: strings as they are, scalars as text, structures as JSON."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def put(doc: dict, key: str, value: Any) -> None:
    """Set ``doc[key]`` unless ``value`` is None (a field an event does not have stays out)."""
    if value is not None:
        doc[key] = value
