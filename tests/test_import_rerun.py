"""Re-running an import over a local folder reads only what changed, against a real node.

Files whose events were all acknowledged are remembered in the import state index (size,
mtime and a hash of head and tail); anything not fully in is read again next time.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from provision.core import interrupt
from provision.core.errors import CtstackError
from provision.ingest.import_sources import import_sources
from provision.ingest.options import ImportOptions
from provision.sources import s3state
from provision.sources.filters import Filters
from provision.sources.localstate import UNCHANGED
from tests.support.accounting import assert_accounted
from tests.support.cli import ctstack_script
from tests.support.events import api_call, many_events, write_trail_file


pytestmark = pytest.mark.usefixtures("forget_state")


def trail_folder(folder: Path, files: int = 4, events: int = 50) -> Path:
    for i in range(files):
        write_trail_file(folder / f"{i:02d}.json.gz", many_events(events, seed=f"{folder.name}-{i}"))
    return folder


def run(es_config, folder: Path, index_prefix: str, tmp_path: Path, **options):
    summary = import_sources(es_config, [str(folder)], ImportOptions(index_prefix=index_prefix, processes=0,
                                                                     dead_letter_path=tmp_path / f"dead-{os.urandom(4).hex()}.ndjson", **options))
    assert_accounted(summary)
    return summary


def test_an_unchanged_folder_is_not_read_again_and_sends_nothing(es_config, es, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs")
    first = run(es_config, logs, index_prefix, tmp_path)
    assert first.ok and first.events_indexed == 200 and first.extra[UNCHANGED] == 0
    second = run(es_config, logs, index_prefix, tmp_path)
    assert second.ok
    assert second.files_read == 0 and second.events_read == 0 and second.events_duplicate == 0
    assert second.extra[UNCHANGED] == 4
    assert es.count(index=f"{index_prefix}-*")["count"] == 200


def test_a_changed_touched_or_new_file_is_read_and_the_rest_skipped(es_config, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs")
    run(es_config, logs, index_prefix, tmp_path)
    write_trail_file(logs / "01.json.gz", many_events(60, seed="changed"))      # new content
    os.utime(logs / "02.json.gz", ns=(1, 1))                                   # same bytes, other mtime
    write_trail_file(logs / "99.json.gz", many_events(10, seed="new"))          # a new file
    second = run(es_config, logs, index_prefix, tmp_path)
    assert second.ok and second.files_read == 3 and second.extra[UNCHANGED] == 2
    assert second.events_read == 60 + 50 + 10
    assert second.events_indexed == 70 and second.events_duplicate == 50


def test_a_same_size_same_mtime_rewrite_is_caught_by_the_content_hash(es_config, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs", files=1)
    path = logs / "00.json.gz"
    run(es_config, logs, index_prefix, tmp_path)
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # the gzip trailer's length byte: same size, other content
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = run(es_config, logs, index_prefix, tmp_path)
    assert second.files_read == 1 and second.extra[UNCHANGED] == 0


def test_full_reads_every_file_again(es_config, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs")
    run(es_config, logs, index_prefix, tmp_path)
    again = run(es_config, logs, index_prefix, tmp_path, full=True)
    assert again.ok and again.files_read == 4 and again.events_duplicate == 200 and again.extra[UNCHANGED] == 0


def test_a_file_with_a_failed_event_is_read_again_next_time(es_config, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs", files=2)
    write_trail_file(logs / "bad.json.gz", [api_call(eventID="bad-time", eventTime="not a time"), *many_events(5, seed="b")])
    first = run(es_config, logs, index_prefix, tmp_path)
    assert first.events_failed == 1
    second = run(es_config, logs, index_prefix, tmp_path)
    assert second.files_read == 1 and second.extra[UNCHANGED] == 2
    assert second.events_read == 6 and second.events_failed == 1 and second.events_duplicate == 5


def test_a_file_with_filtered_out_events_is_read_again_without_the_filter(es_config, index_prefix, tmp_path):
    """Events left out by --since were never imported: the file is not remembered (a file
    whose events all passed the filter is: all its events are in)."""
    logs = tmp_path / "logs"
    write_trail_file(logs / "may.json.gz", many_events(20, seed="may", month="2024-05"))
    write_trail_file(logs / "mixed.json.gz", many_events(20, seed="apr", month="2024-04") + many_events(20, seed="may2", month="2024-05"))
    filtered = run(es_config, logs, index_prefix, tmp_path, filters=Filters.from_text(since="2024-05-01"))
    assert filtered.events_filtered == 20 and filtered.events_indexed == 40
    unfiltered = run(es_config, logs, index_prefix, tmp_path)
    assert unfiltered.files_read == 1 and unfiltered.extra[UNCHANGED] == 1
    assert unfiltered.events_indexed == 20 and unfiltered.events_duplicate == 20


def test_an_interrupted_run_remembers_only_the_files_fully_acknowledged(es_config, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs", files=12, events=100)
    done: list[str] = []

    def stop_after_the_first_file(file, outcome):
        done.append(file.name)
        if len(done) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the import: it finishes the files in hand

    with interrupt.handled():  # as the command line does: a signal asks the import to stop
        first = run(es_config, logs, index_prefix, tmp_path, on_file_done=stop_after_the_first_file, chunk_size=100)
    assert first.interrupted and 1 <= len(done) < 12
    with interrupt.handled():  # a new run: the signal is behind it
        second = run(es_config, logs, index_prefix, tmp_path)
    assert second.ok and second.extra[UNCHANGED] == len(done)
    assert second.files_read == 12 - len(done) and second.events_read == (12 - len(done)) * 100


def test_another_index_prefix_is_another_import(es_config, es, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs", files=2)
    run(es_config, logs, index_prefix, tmp_path)
    other = f"{index_prefix}-other"
    try:
        again = run(es_config, logs, other, tmp_path)
        assert again.files_read == 2 and again.events_indexed == 100 and again.extra[UNCHANGED] == 0
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{other}-*")


def test_deleted_event_indices_make_the_state_stale_and_every_file_is_read(es_config, es, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs", files=2)
    run(es_config, logs, index_prefix, tmp_path)
    es.indices.delete(index=f"{index_prefix}-2*")
    again = run(es_config, logs, index_prefix, tmp_path)
    assert again.files_read == 2 and again.events_indexed == 100 and again.extra[UNCHANGED] == 0


def test_an_unreadable_state_index_is_one_sentence_pointing_at_full(es_config, es, index_prefix, tmp_path):
    """A state index that refuses reads (closed here; a missing privilege reads the same)."""
    from provision.sources.localstate import LocalImport
    from provision.sources.local import local_files

    logs = trail_folder(tmp_path / "logs", files=1)
    state_index = f"{index_prefix}-state"
    es.indices.create(index=state_index, mappings=s3state.MAPPINGS)
    es.indices.close(index=state_index)
    run(es_config, logs, index_prefix, tmp_path)  # events exist under the prefix: the state is consulted
    with pytest.raises(CtstackError, match=rf"^Cannot read the import state in Elasticsearch index {state_index} .*; --full imports without it\.$"):
        list(LocalImport(es, index_prefix, state_index=state_index).files(local_files([logs])))


def test_the_command_line_says_the_files_are_unchanged_and_full_reads_them(es_url, index_prefix, tmp_path):
    logs = trail_folder(tmp_path / "logs", files=3)
    (logs / "README.txt").write_text("not a log: skipped by its name on every run\n")
    base = ["import", str(logs), "--es-url", es_url, "--index-prefix", index_prefix]
    first = ctstack_script(*base, "--format", "json")
    assert first.returncode == 0 and json.loads(first.stdout)["files_unchanged"] == 0, first.stderr
    second = ctstack_script(*base)
    assert second.returncode == 0, second.stderr
    assert "Nothing new: the 3 log files found were imported by earlier runs and have not changed since (--full reads them again)." in " ".join(second.stdout.split())
    full = ctstack_script(*base, "--full", "--format", "json")
    summary = json.loads(full.stdout)
    assert full.returncode == 0 and summary["files_unchanged"] == 0 and summary["events_duplicate"] == 150


def test_a_fifo_named_on_the_command_line_fails_unread_and_does_not_hang_the_fingerprint(es_config, index_prefix, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    summary = run(es_config, fifo, index_prefix, tmp_path)
    assert summary.files_failed == 1 and summary.extra[UNCHANGED] == 0
    assert "not a regular file" in summary.failed_files[0]["reason"]


def test_remembering_files_never_waits_for_a_refresh_and_the_next_run_still_sees_them(es_config, es, index_prefix, tmp_path):
    """State is written without waiting for a refresh (one per 500 files made remembering
    half of an import's time) and looked up by mget, which reads the latest writes: with
    the state index never refreshing, the import ends and its re-run skips every file."""
    from provision.core.connection import client
    from provision.ingest.importer import run_import
    from provision.sources.local import local_files
    from provision.sources.localstate import LocalImport

    state_index = f"{index_prefix}-state-norefresh"
    es.indices.create(index=state_index, mappings=s3state.MAPPINGS, settings={"index": {"refresh_interval": -1}})
    logs = trail_folder(tmp_path / "logs", files=3, events=20)
    # A short request timeout: a write that waited for a refresh that never comes would fail.
    fast = client(es_config, request_timeout=20)
    try:
        for run_number, expected_unchanged in ((1, 0), (2, 3)):
            local = LocalImport(fast, index_prefix, state_index=state_index)
            summary = run_import(fast, local.files(local_files([logs])), index_prefix=index_prefix, processes=0,
                                 on_file_done=local.on_file_done, dead_letter_path=tmp_path / f"dead{run_number}.ndjson")
            local.close()
            assert summary.ok and local.state.unsaved == 0, local.state.error
            assert local.stats[UNCHANGED] == expected_unchanged
        assert summary.files_read == 0
    finally:
        fast.close()
        es.options(ignore_status=404).indices.delete(index=state_index)
