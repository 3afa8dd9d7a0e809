"""The rule every import keeps: each event read is accounted for, exactly once."""

from __future__ import annotations

from provision.ingest.importer import ImportSummary


def assert_accounted(summary: ImportSummary) -> None:
    """read == indexed + duplicate + failed + unknown + filtered."""
    assert summary.events_read == (summary.events_indexed + summary.events_duplicate + summary.events_failed
                                   + summary.events_unknown + summary.events_filtered)
