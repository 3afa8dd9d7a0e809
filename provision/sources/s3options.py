"""How S3 is read, one set of options for every reader: ``ctstack import s3://...``,
``--follow``, ``--sqs-queue`` and ``ctstack hints s3://...`` (no boto3 import here)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from provision.core import settings
from provision.sources.s3layout import S3Filters


@dataclass
class S3Options:
    """``profile``: a named (SSO) AWS profile, else the default credential chain;
    ``endpoint_url``: an S3-compatible endpoint; ``workers``: parallel downloads; ``full``:
    read again what earlier imports recorded; ``filters``: what the listing skips (accounts,
    regions, days, Insights); ``session``: a boto3 session made once for many rounds."""

    profile: str | None = None
    endpoint_url: str | None = None
    workers: int = settings.S3_WORKERS
    full: bool = False
    filters: S3Filters | None = None
    session: Any = None

    @classmethod
    def of(cls, value: S3Options | dict[str, Any] | None) -> S3Options:
        """``value`` as S3Options (a dict of its fields is accepted, as earlier versions took)."""
        if value is None:
            return cls()
        if isinstance(value, dict):
            return cls(**value)
        return value

    def but(self, **changes: Any) -> S3Options:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)
