"""What an import did: per file (:class:`FileOutcome`) and for the run (:class:`ImportSummary`).

Every event read ends in exactly one bucket: indexed, duplicate, failed, filtered or unknown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

INTERRUPTED = "interrupted"         # summary.aborted starts so when a signal stopped the run
UNKNOWN = "outcome unknown (Elasticsearch did not answer): re-run to settle"


@dataclass
class FileOutcome:
    """What happened to one file's events (given to ``on_file_done``)."""

    events: int = 0
    indexed: int = 0
    duplicate: int = 0
    failed: int = 0
    filtered: int = 0            # outside the import's filters: not imported
    unknown: int = 0  # sent, but Elasticsearch did not answer
    skipped_reason: str | None = None
    failed_reason: str | None = None  # the file itself could not be read


@dataclass
class ImportSummary:
    files_read: int = 0          # every file looked at, including skipped ones
    files_skipped: int = 0
    skipped_files: list[dict] = field(default_factory=list)   # [{path, reason}]
    files_failed: int = 0        # files that could not be read at all
    failed_files: list[dict] = field(default_factory=list)    # [{path, reason}]
    events_read: int = 0
    events_indexed: int = 0
    events_duplicate: int = 0
    events_failed: int = 0
    events_filtered: int = 0     # outside --since/--until/--account/--region: not imported
    events_unknown: int = 0      # sent, never answered: maybe indexed, maybe not (a re-run settles it)
    failure_reasons: dict[str, int] = field(default_factory=dict)
    dead_letter: str | None = None
    indices: list[str] = field(default_factory=list)
    aborted: str | None = None   # why the run stopped early, if it did
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.events_failed == 0 and self.events_unknown == 0 and self.files_failed == 0 and self.aborted is None

    @property
    def interrupted(self) -> bool:
        """A signal stopped the run before its last file (what was read is accounted for)."""
        return bool(self.aborted and self.aborted.startswith(INTERRUPTED))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data["seconds"] = round(self.seconds, 3)
        data.update(extra)
        return data
