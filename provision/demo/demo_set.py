"""The demo set: everyday traffic plus 90 days of recurring console work, in one folder.

What `ctstack demo DIR` writes and `ctstack up --sample` imports.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from provision.demo.console_work import write_console_work
from provision.demo.generate import SAMPLE_EVENTS, GenerateStats, demo_start, write_sample


def write_demo(dest_dir: str | Path, start: datetime | None = None, events: int = SAMPLE_EVENTS) -> GenerateStats:
    """The demo set, as `ctstack demo DIR` writes it and `ctstack up --sample` imports it:
    ``events`` events of everyday traffic (:func:`write_sample`) from ``start`` (default
    :func:`demo_start`: the same all week) plus the 90 days of recurring console work before
    it (:mod:`provision.demo.console_work`). The same arguments write the same bytes."""
    start = start or demo_start()
    stats = write_sample(dest_dir, events=events, start=start)
    work = write_console_work(dest_dir, end=start)
    stats.events += work.events
    stats.files += work.files
    return stats
