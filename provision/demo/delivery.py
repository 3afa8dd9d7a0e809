"""How CloudTrail delivers the demo's files: the S3 keys of log and digest files (one per
account, region and 5-minute window; digests hourly) and their gzip (``mtime=0``, so the same
seed gives byte-identical files)."""

from __future__ import annotations

import gzip
from datetime import datetime


from provision.demo.organisation import Account


ORG_ID = "o-7k2xq9w4bd"
TRAIL_NAME = "org-management-events"
TRAIL_BUCKET = "acme-cloudtrail-logs"


def _account_prefix(account: Account) -> str:
    return f"AWSLogs/{ORG_ID}/{account.id}" if account.org_trail else f"AWSLogs/{account.id}"


def log_file_key(account: Account, region: str, delivered: datetime, suffix: str) -> str:
    """The S3 key CloudTrail gives a log file."""
    return (f"{_account_prefix(account)}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
            f"{account.id}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{suffix}.json.gz")


def digest_file_key(account: Account, region: str, end: datetime) -> str:
    """The S3 key CloudTrail gives a digest file (AWS docs: CloudTrail digest file structure)."""
    return (f"{_account_prefix(account)}/CloudTrail-Digest/{region}/{end:%Y/%m/%d}/"
            f"{account.id}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_{end:%Y%m%dT%H%M%SZ}.json.gz")


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


class DigestLog:
    """The log files one (account, region) delivered in the current hour, for its digest file."""

    def __init__(self):
        self.files: list[dict] = []
        self.previous: tuple[str, str] | None = None
