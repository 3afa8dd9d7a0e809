"""Paths in an API input (:mod:`provision.cloudtrail.clickcode`'s parameters): each scalar with its
path as parts (`IpPermissions`, 0, `CidrIp`) or as text for people, and which paths vary
across several inputs (a workflow's arguments)."""

from __future__ import annotations

import json
from typing import Any, Iterator


def join_path(path: str, key: str) -> str:
    """`a.b` from `a` and `b`; `b` alone at the top."""
    return f"{path}.{key}" if path else key



def leaf_items(value: Any, parts: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every scalar in an API input with its path as parts: (`IpPermissions`, 0, `IpRanges`, 0, `CidrIp`).
    Parts, not text: a logged map key may hold dots and brackets."""
    if isinstance(value, dict):
        if not value and parts:
            yield parts, value
        for key, inner in value.items():
            yield from leaf_items(inner, (*parts, str(key)))
    elif isinstance(value, list):
        if not value and parts:
            yield parts, value
        for i, inner in enumerate(value):
            yield from leaf_items(inner, (*parts, i))
    else:
        yield parts, value


def path_text(parts: tuple | list) -> str:
    """A path for people: `IpPermissions[0].IpRanges[0].CidrIp`."""
    text = ""
    for part in parts:
        text = f"{text}[{part}]" if isinstance(part, int) else join_path(text, part)
    return text


def leaves(value: Any) -> Iterator[tuple[str, Any]]:
    """Every scalar in an API input with its path as text (see :func:`path_text`)."""
    for parts, inner in leaf_items(value):
        yield path_text(parts), inner


def varying_paths(inputs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(paths whose value differs, or is missing, across the inputs; paths with one value)."""
    values: dict[str, set[str]] = {}
    seen: dict[str, int] = {}
    for parameters in inputs:
        for path, value in leaves(parameters):
            values.setdefault(path, set()).add(json.dumps(value, sort_keys=True))
            seen[path] = seen.get(path, 0) + 1
    varying = sorted(p for p in values if len(values[p]) > 1 or seen[p] < len(inputs))
    constant = sorted(p for p in values if p not in set(varying))
    return varying, constant
