"""The demo set: everyday traffic plus 90 days of recurring console work, in one folder.

What `ctstack demo DIR` writes and `ctstack up --sample` imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from provision.core.errors import CtstackError
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


@dataclass(frozen=True)
class DemoWritten:
    """What :func:`write_demo_folder` wrote: the counts, and the day the console work ends."""

    stats: GenerateStats
    start: datetime


def write_demo_folder(folder: Path, events: int = SAMPLE_EVENTS) -> DemoWritten:
    """`ctstack demo FOLDER`: the demo set (:func:`write_demo`, from :func:`demo_start`) into a
    new or empty folder, since it is written whole; else, or when it cannot be written, one
    CtstackError sentence."""
    if folder.exists() and not folder.is_dir():
        raise CtstackError(f"{folder} is a file; give a new or empty folder.")
    if folder.is_dir() and any(folder.iterdir()):
        raise CtstackError(f"{folder} is not empty; give a new or empty folder (the demo set is written whole).")
    start = demo_start()
    try:
        stats = write_demo(folder, start=start, events=events)
    except OSError as err:
        raise CtstackError(f"Cannot write the demo logs to {folder}: {err.strerror or err}.") from None
    return DemoWritten(stats, start)
