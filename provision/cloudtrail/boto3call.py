"""The boto3 call for an API input (:mod:`provision.cloudtrail.clickcode`'s), secrets read from
os.environ: the same action as the AWS CLI command line, in Python."""

from __future__ import annotations

from typing import Any, Sequence

from botocore import xform_name

from provision.cloudtrail.commandline import secret_refs, substitute


class _Environ:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f'os.environ["{self.name}"]'


def boto3_call(service: str, operation: str, parameters: dict[str, Any], region: str | None = None,
               placeholders: Sequence[dict[str, Any]] = ()) -> str:
    """The same call in Python: `boto3.client("ec2", region_name=...).create_tags(Resources=[...], ...)`;
    secrets from os.environ. repr() makes every logged value a literal."""
    secrets = {parts: _Environ(ref.name) for parts, ref in secret_refs(parameters, placeholders).items()}
    values = substitute(parameters, secrets)  # type: ignore[arg-type]
    arguments = ", ".join(f"{member}={value!r}" for member, value in values.items())
    client = f'"{service}"' + (f", region_name={region!r}" if region else "")
    return f"boto3.client({client}).{xform_name(operation)}({arguments})"
