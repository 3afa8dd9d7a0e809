"""The AWS CLI command line for an API input (:mod:`provision.cloudtrail.clickcode`'s): option
words, shell quoting, variables for arguments and secrets, --cli-input-json for what must not
be a plain word. Logged text is data: nothing from a log can become an option, a file or URL
reference, or a shell expansion (see :func:`command`).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from botocore import xform_name

from provision.cloudtrail import awscli

_SIMPLE = re.compile(r"^[A-Za-z0-9_./:@+=,-]+$")


def is_nested(value: Any) -> bool:
    """True for a structure, a map or a list of non-scalars."""
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)


# What the AWS CLI reads as a reference rather than a value: `file://x` is the file's text,
# `fileb://` its bytes, and AWS CLI v1 fetches `http(s)://` (its `cli_follow_urlparam`).
CLI_REFERENCE_PREFIXES = ("file://", "fileb://", "http://", "https://")
_NOT_PRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def printable(text: Any) -> str:
    """Logged text as one line that cannot drive a terminal: control characters (escape
    sequences, newlines), bidirectional overrides and zero-width characters removed."""
    return _NOT_PRINTABLE.sub("", text if isinstance(text, str) else str(text))


def is_region(region: Any) -> bool:
    return isinstance(region, str) and bool(_REGION.match(region))


def _read_as_option_or_reference(value: Any) -> bool:
    """A logged value the AWS CLI would not take as a plain value on its command line."""
    if isinstance(value, list):  # a list item the AWS CLI would parse as JSON ([..] {..}) is no plain item either
        return any(_read_as_option_or_reference(v) or (isinstance(v, str) and v.lstrip()[:1] in ("[", "{")) for v in value)
    if not isinstance(value, str):
        return False
    head = value.lstrip().lower()
    return value == "" or head.startswith("-") or head.startswith(CLI_REFERENCE_PREFIXES) or value != printable(value)


@dataclass(frozen=True)
class Ref:
    """A shell variable in place of a value: an argument, a captured output, a secret."""

    name: str
    number: bool = False  # spliced into JSON as a number or boolean (checked by the script)


def _has_ref(value: Any) -> bool:
    if isinstance(value, Ref):
        return True
    if isinstance(value, dict):
        return any(_has_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False


def substitute(value: Any, replacements: dict[tuple, Ref], parts: tuple = ()) -> Any:
    """The input with the value at each path of ``replacements`` replaced by its :class:`Ref`."""
    if parts in replacements:
        return replacements[parts]
    if isinstance(value, dict):
        return {k: substitute(v, replacements, (*parts, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, replacements, (*parts, i)) for i, v in enumerate(value)]
    return value


def option(member: str) -> str:
    return "--" + xform_name(member, "-")


def shell_word(value: Any) -> str:
    """One shell word for a value: strings as they are, anything else as JSON; quoted only if needed."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if _SIMPLE.match(text) else shlex.quote(text)


def env_reference(ref: Ref) -> str:
    """How a one-line command reads a variable: `"$NEW_PASSWORD"`."""
    return f'"${ref.name}"'


def json_word(members: dict[str, Any], splice: Callable[[Ref], str] | None = None) -> str:
    """The input as one shell word of JSON for --cli-input-json; each :class:`Ref` becomes
    ``splice(ref)``, shell text that expands to the JSON of its value (a one-line command
    splices `"$VAR"` inside the JSON's quotes)."""
    refs: list[Ref] = []

    def mark(ref: Any) -> str:
        if not isinstance(ref, Ref):
            raise TypeError(f"not JSON: {type(ref).__name__}")
        refs.append(ref)
        return f"\x00{len(refs) - 1}\x00"

    text = json.dumps(members, separators=(",", ":"), default=mark)
    pieces = re.split(r'"\\u0000(\d+)\\u0000"', text)
    words = []
    for k, piece in enumerate(pieces):
        if k % 2:
            ref = refs[int(piece)]
            words.append(splice(ref) if splice else (env_reference(ref) if ref.number else f"'\"'{env_reference(ref)}'\"'"))
        elif piece:
            words.append(shlex.quote(piece))
    return "".join(words)


def command(service: str, operation: str, parameters: dict[str, Any], region: str | None = None,
            splice: Callable[[Ref], str] | None = None, region_word: str | None = None) -> str:
    """A command line that cannot be turned against its user: plain values as options; values
    the AWS CLI would read as an option or a file or URL reference, nested values and
    variables inside --cli-input-json (which the AWS CLI never expands); then --region."""
    words = [awscli.aws_command(service, operation)]
    as_json: dict[str, Any] = {}
    for member, value in parameters.items():
        if isinstance(value, Ref) and splice is None and not value.number:
            words.append(f"{option(member)}={env_reference(value)}")  # `=`: a value starting with - stays a value
        elif _has_ref(value) or is_nested(value) or _read_as_option_or_reference(value):
            as_json[member] = value
        elif isinstance(value, bool):
            words.append(option(member) if value else "--no-" + xform_name(member, "-"))
        elif isinstance(value, list) and value:
            words.append(option(member))
            words.extend(shell_word(v) for v in value)
        else:
            words.extend([option(member), shell_word(value)])
    if as_json:
        words.extend(["--cli-input-json", json_word(as_json, splice)])
    if region_word is not None:
        words.extend(["--region", region_word])
    elif region is not None:
        words.append(f"--region {region}" if is_region(region) else "--region=" + shlex.quote(region))
    return " ".join(words)


def cli_line(service: str, operation: str, parameters: dict[str, Any], region: str | None = None,
             placeholders: Sequence[dict[str, Any]] = ()) -> str:
    """A ready command line: secrets (placeholders) read from their environment variables."""
    return command(service, operation, substitute(parameters, secret_refs(parameters, placeholders)), region)


def secret_refs(parameters: dict[str, Any], placeholders: Sequence[dict[str, Any]]) -> dict[tuple, Ref]:
    """Where each placeholder's environment variable goes (a list's first item for a list)."""
    refs = {}
    for p in placeholders:
        parts = tuple(p["parts"])
        value = _at(parameters, parts)
        if isinstance(value, list):
            parts, value = (*parts, 0), (value[0] if value else "")
        if isinstance(value, (dict, list)):
            continue  # a structure cannot come from one variable: it stays as logged ({})
        refs[parts] = Ref(p["env"], number=not isinstance(value, str))
    return refs


def _at(value: Any, parts: Sequence[Any]) -> Any:
    for part in parts:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value
