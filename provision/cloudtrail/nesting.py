"""Documents between their flat Python form (``doc["event.action"]``) and the nested objects
sent to Elasticsearch (:func:`nested`), and back from either shape (:func:`flat_source`)."""

from __future__ import annotations

from typing import Callable

from provision.cloudtrail.template import FIELD_TYPES


# Field names in a document's order -> a function that nests such documents. A few hundred
# orders occur (which optional fields an event has), so each is made once; bounded all the same.
_NESTERS: dict[tuple, Callable[..., dict]] = {}
_MAX_NESTERS = 4096


def _nester(names: tuple) -> Callable[..., dict]:
    """A function taking a document's values in ``names`` order and returning the nested
    document: one dict display, compiled once (a loop over the fields costs four times as much
    per document, and the conversion runs for every event). Only ctstack's own field names,
    written with repr(), go into the code."""
    tree: dict = {}
    for position, name in enumerate(names):
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = position

    def display(node: dict) -> str:
        return "{" + ", ".join(f"{key!r}: " + (display(value) if isinstance(value, dict) else f"v{value}")
                               for key, value in node.items()) + "}"

    scope: dict = {}
    parameters = ", ".join(f"v{position}" for position in range(len(names)))
    exec(f"def nest({parameters}):\n    return {display(tree)}\n", scope)  # noqa: S102 - our field names only
    return scope["nest"]


def nested(doc: dict) -> dict:
    """A flat document as nested objects, as it is sent: {"a.b": 1, "a.c": 2} -> {"a": {"b": 1,
    "c": 2}}. Values are left whole (a request_parameters blob stays as it is)."""
    names = tuple(doc)
    nest = _NESTERS.get(names)
    if nest is None:
        nest = _nester(names)
        if len(_NESTERS) < _MAX_NESTERS:
            _NESTERS[names] = nest
    return nest(*doc.values())


def flat_source(source: dict) -> dict:
    """A document's ``_source`` with ctstack's flat field names, whatever its shape: nested
    (as documents are sent now), flat dotted keys (as earlier versions sent them), or mixed.
    The walk stops at each mapped field (:data:`provision.cloudtrail.template.FIELD_TYPES`), so a
    request_parameters blob stays whole."""
    flat: dict = {}
    stack = [("", source)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            name = prefix + key
            if value.__class__ is dict and name not in FIELD_TYPES:
                stack.append((name + ".", value))
            else:
                flat[name] = value
    return flat
