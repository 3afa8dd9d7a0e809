"""Reading hostile input: strange files and values fail alone, with their reason, and never
crash, hang or hide a loss (a worker killed mid-file is in test_convert.py). The
importer runs against the real Elasticsearch node; hints and report through the real CLI."""

from __future__ import annotations

import gzip
import json
import os
import stat
import threading
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from provision.cli.commands import app
from provision.ingest.bulklines import ConvertOptions, convert_file
from provision.cloudtrail.documents import DocumentError, parse_event_time, to_document
from provision.cloudtrail.nesting import flat_source
from provision.analysis.hints import hints_from_sources
from provision.ingest.importer import run_import
from provision.cloudtrail.records import FileFailed, SkipFile, Unreadable
from provision.cloudtrail.decode import decode_events, read_files
from provision.sources.local import local_files
from tests.support.events import api_call, write_trail_file

OPTIONS = ConvertOptions("hostile")


def accounted(summary) -> bool:
    return summary.events_read == summary.events_indexed + summary.events_duplicate + summary.events_failed


def dead_lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def no_traceback(result) -> None:
    text = result.output + (str(result.exception) if result.exception and not isinstance(result.exception, SystemExit) else "")
    assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# -- FIFOs, sockets and devices --------------------------------------------------------------------

def _with_fifo(tmp_path: Path) -> tuple[Path, Path]:
    logs = tmp_path / "logs"
    write_trail_file(logs / "a.json.gz", [api_call(eventID="a")])
    fifo = logs / "pipe.json"
    os.mkfifo(fifo)  # nobody ever writes it: reading it would block forever
    return logs, fifo


def _in_thread(func, *args):
    """Run ``func`` with a deadline: a hang fails the test instead of stalling the suite."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(func(*args)), daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "blocked on the FIFO"
    return out[0]


def test_fifo_in_folder_is_skipped_not_read(tmp_path):
    logs, fifo = _with_fifo(tmp_path)
    reads = _in_thread(lambda: [(r.source.name, r.skipped, r.failed) for r in read_files(local_files([logs]))])
    assert (str(fifo), reads[1][1], None) == reads[1] and reads[1][1].startswith("not a regular file")
    hints = _in_thread(hints_from_sources, [str(logs)])
    assert hints.events_read == 1 and hints.skipped_files[0]["reason"].startswith("not a regular file")
    report = _in_thread(cli, "report", str(logs), "-o", str(tmp_path / "r.html"))
    assert report.exit_code == 0, report.output


def test_fifo_named_on_the_command_line_fails_with_the_reason(tmp_path, es, index_prefix):
    logs, fifo = _with_fifo(tmp_path)
    summary = _in_thread(lambda: run_import(es, local_files([logs / "a.json.gz", fifo]), index_prefix=index_prefix,
                                            dead_letter_path=tmp_path / "d.ndjson", processes=0))
    assert summary.events_indexed == 1 and not summary.ok
    assert summary.failed_files == [{"path": str(fifo), "reason": "not a regular file (a FIFO, socket or device is never read)"}]
    hints = _in_thread(cli, "hints", str(fifo), "--format", "json")
    assert json.loads(hints.stdout)["failed_files"][0]["reason"].startswith("not a regular file")


# -- Deep nesting ----------------------------------------------------------------------------------

def _deep(levels: int) -> dict:
    value: object = "bottom"
    for _ in range(levels):
        value = [value]
    return value  # type: ignore[return-value]


@pytest.mark.parametrize("levels", [300, 1100])
def test_an_event_too_deep_fails_alone_and_its_dead_letter_line_says_what_it_holds(tmp_path, es, index_prefix, levels):
    deep = orjson.dumps(api_call(eventID="deep")).replace(b'"requestParameters":', b'"requestParameters":' + b"[" * levels + b"1" + b"]" * levels + b',"was":', 1)
    good = [orjson.dumps(api_call(eventID=f"g{i}")) for i in range(3)]
    raw = b'{"Records":[' + b",".join([good[0], deep, good[1], good[2]]) + b"]}"
    (tmp_path / "deep.json").write_bytes(raw)
    dead = tmp_path / "dead.ndjson"
    summary = run_import(es, local_files([tmp_path / "deep.json"]), index_prefix=index_prefix, dead_letter_path=dead,
                         profile="full", processes=0)
    assert (summary.events_read, summary.events_indexed, summary.events_failed) == (4, 3, 1)
    assert summary.files_skipped == summary.files_failed == 0
    [line] = dead_lines(dead)
    if levels < 1024:
        assert line["reason"].startswith("nested deeper than 254 levels (the dead-letter file keeps a copy cut at level 200")
        assert line["event"]["eventID"] == "deep"
    else:  # valid JSON, too deep for the parser: not "invalid JSON", and kept as text
        assert line["reason"].startswith("nested deeper than 1024 levels (the dead-letter file keeps its text)")
        assert orjson.loads(line["event"].replace("[" * levels, "[").replace("]" * levels, "]"))["eventID"] == "deep"
    assert summary.failure_reasons == {f"nested deeper than {254 if levels < 1024 else 1024} levels": 1}


# -- Dates outside Python's range ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+09:00", "9999-12-31T23:30:00-01:00"])
def test_event_time_out_of_range_fails_that_event_alone(value):
    raw = orjson.dumps({"Records": [api_call(eventID="a"), api_call(eventID="b", eventTime=value), api_call(eventID="c")]})
    converted = convert_file("x.json", raw, OPTIONS)
    assert (converted.events, converted.documents) == (3, 2)
    [(position, reason, original)] = converted.failures
    assert position == 1 and reason.startswith("eventTime out of range") and original["eventID"] == "b"


def test_a_bad_creation_date_is_kept_as_text(es, index_prefix, tmp_path):
    identity = dict(api_call()["userIdentity"], sessionContext={"attributes": {"creationDate": "9999-12-31T23:30:00-01:00"}})
    odd = api_call(eventID="odd-session", userIdentity=identity)
    doc = to_document(odd)
    assert doc["aws.cloudtrail.user_identity.session_context.creation_date"] == "9999-12-31T23:30:00-01:00"
    write_trail_file(tmp_path / "a.json.gz", [odd])
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, dead_letter_path=tmp_path / "d.ndjson")
    assert summary.events_indexed == 1 and summary.ok  # the mapping keeps what it cannot read, in _source


# -- One strict timestamp rule ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["2024-08-01T13:30: 5Z", "٢٠٢٤-08-01T13:30:05Z", "+024-08-01T13:30:05Z",
                                   "2024-08-01T13:30:0_5Z", "2024-08-01 13:30:05Z", "2024-8-01T13:30:05Z",
                                   "2024-08-01T13:30:05+2:00", "20240801T133005Z"])
def test_junk_timestamps_are_refused_by_import_and_hints_alike(value, tmp_path):
    with pytest.raises(DocumentError, match="no usable eventTime"):
        parse_event_time(value)
    converted = convert_file("x.json", orjson.dumps([api_call(eventTime=value)]), OPTIONS)
    assert converted.documents == 0 and converted.indices == []   # no junk index such as ctstack-cloudtrail-+024.08
    write_trail_file(tmp_path / "a.json.gz", [api_call(eventTime=value, userAgent="signin.amazonaws.com")])
    result = cli("hints", str(tmp_path), "--format", "json", "--since", "2024-01-01")
    no_traceback(result)
    assert json.loads(result.output)["unusable_reasons"] == {"no usable eventTime": 1}


@pytest.mark.parametrize("value, expected", [("2024-08-01T13:30:05Z", "2024-08-01T13:30:05Z"),
                                             ("2024-08-01T13:30:05.5+02:00", "2024-08-01T11:30:05.500000Z"),
                                             ("2024-08-01T13:30:05", "2024-08-01T13:30:05Z")])
def test_the_documented_layouts_are_read(value, expected):
    assert parse_event_time(value) == expected


# -- Hints and report never print a traceback ------------------------------------------------------

def test_hints_and_report_end_with_their_answer_on_hostile_files(tmp_path):
    logs = tmp_path / "logs"
    write_trail_file(logs / "range.json.gz", [api_call(eventID="r", eventTime="9999-12-31T23:30:00-01:00")])
    write_trail_file(logs / "junk.json.gz", [api_call(eventID="j", eventTime="2024-08-01T13:30: 5Z")])
    (logs / "deep.json").write_bytes(orjson.dumps(api_call(eventID="d")).replace(b'"requestParameters":', b'"requestParameters":' + b"[" * 2000 + b"]" * 2000 + b',"x":'))
    (logs / "bomb.json.gz").write_bytes(gzip.compress(b" " * (3 << 20)))
    write_trail_file(logs / "ok.json.gz", [api_call(eventID="ok")])
    result = cli("hints", str(logs), "--format", "json", "--max-file-bytes", str(1 << 20))
    no_traceback(result)
    assert result.exit_code == 1  # a file could not be read: the exit code says so, as import's does
    data = json.loads(result.stdout)
    assert data["events_read"] == 4 and data["distinct_events"] == 1
    assert data["unusable_reasons"] == {"eventTime out of range": 1, "no usable eventTime": 1, "nested deeper than 1024 levels": 1}
    assert [f["path"].rsplit("/", 1)[1] for f in data["failed_files"]] == ["bomb.json.gz"]
    report = cli("report", str(logs), "-o", str(tmp_path / "r.html"), "--max-file-bytes", str(1 << 20))
    no_traceback(report)
    assert report.exit_code == 1 and (tmp_path / "r.html").exists()


# -- Bad lines, concatenated files, truncated gzip -------------------------------------------------

def test_a_truncated_line_fails_alone_and_exit_code_says_so(es, index_prefix, tmp_path):
    lines = [orjson.dumps(api_call(eventID=f"l{i}")) for i in range(4)]
    lines[2] = lines[2][: len(lines[2]) // 2]  # cut off mid-event
    (tmp_path / "export.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    dead = tmp_path / "dead.ndjson"
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, dead_letter_path=dead)
    assert (summary.events_read, summary.events_indexed, summary.events_failed) == (4, 3, 1) and accounted(summary)
    assert not summary.ok and summary.files_skipped == 0
    [line] = dead_lines(dead)
    # The dead-letter line keeps the line's text, scrubbed of access key IDs like documents.
    assert line["reason"].startswith("invalid JSON")
    assert line["event"] == lines[2].decode().replace("AKIAEXAMPLEKEY000001", "[access key ID removed]")


def test_concatenated_delivery_files_are_all_read():
    first = orjson.dumps({"Records": [api_call(eventID="a"), api_call(eventID="b")]})
    second = orjson.dumps({"Records": [api_call(eventID="c")]})
    events = decode_events("all.json", first + second)
    assert [e["eventID"] for e in events] == ["a", "b", "c"] and events.partly is None
    assert [e["eventID"] for e in decode_events("all.json.gz", gzip.compress(first) + gzip.compress(second))] == ["a", "b", "c"]


def test_a_truncated_gzip_gives_its_readable_events_and_the_file_is_partly_read(es, index_prefix, tmp_path):
    events = [api_call(eventID=f"t{i}", requestParameters={"pad": os.urandom(200).hex()}) for i in range(200)]
    whole = gzip.compress(orjson.dumps({"Records": events}))
    (tmp_path / "cut.json.gz").write_bytes(whole[: len(whole) // 2])
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, dead_letter_path=tmp_path / "d.ndjson")
    assert 0 < summary.events_indexed < 200 and summary.events_failed == 0 and accounted(summary)
    [failed] = summary.failed_files
    assert failed["reason"].startswith("partly read: corrupt gzip: truncated after")
    assert not summary.ok  # exit code 1: events could not be read
    hints = hints_from_sources([str(tmp_path)])
    assert hints.events_read == summary.events_read and hints.failed_files == summary.failed_files


# -- Digests by name -------------------------------------------------------------------------------

def test_a_folder_named_like_digests_is_read():
    assert decode_events("review/CloudTrail-Digest-review/a.json", orjson.dumps([api_call()]))
    for digest in ("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz",
                   "copies/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240101T000000Z.json.gz"):
        with pytest.raises(SkipFile, match="digest"):
            decode_events(digest, b"{}")


# -- Unreadable sub-folders ------------------------------------------------------------------------

def test_an_unreadable_sub_folder_is_a_failed_source(es, index_prefix, tmp_path):
    """A folder that cannot be listed: mode 0 for a normal user; as root (whom modes do not
    stop) the folder is replaced by a file after the walk has seen it, which fails the same
    listing call."""
    write_trail_file(tmp_path / "a" / "1.json.gz", [api_call(eventID="a1")])
    locked = tmp_path / "b"
    write_trail_file(locked / "2.json.gz", [api_call(eventID="b2")])
    walker = local_files([tmp_path])
    first = next(walker)  # a/1.json.gz: the top folder is listed, b is next
    if os.geteuid() == 0:
        (locked / "2.json.gz").unlink()
        locked.rmdir()
        locked.write_text("now a file")
    else:
        locked.chmod(0)
    try:
        summary = run_import(es, [first, *walker], index_prefix=index_prefix, dead_letter_path=tmp_path / "d.ndjson")
    finally:
        if locked.is_dir():
            locked.chmod(stat.S_IRWXU)
    assert summary.events_indexed == 1 and not summary.ok and accounted(summary)
    [failed] = summary.failed_files
    assert failed["path"] == str(locked) and failed["reason"].startswith("could not list the folder: ")


# -- Gzip bombs ------------------------------------------------------------------------------------

def test_a_gzip_bomb_fails_at_the_cap_without_taking_the_memory(es, index_prefix, tmp_path):
    (tmp_path / "bomb.json.gz").write_bytes(gzip.compress(b"[" + b" " * (64 << 20) + b"]", compresslevel=9))
    write_trail_file(tmp_path / "ok.json.gz", [api_call(eventID="ok")])
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, dead_letter_path=tmp_path / "d.ndjson",
                         max_file_bytes=8 << 20, processes=0)
    assert summary.events_indexed == 1 and not summary.ok
    assert summary.failed_files == [{"path": str(tmp_path / "bomb.json.gz"),
                                     "reason": "larger than 8 MB uncompressed, the limit per file (--max-file-bytes)"}]
    with pytest.raises(FileFailed):
        decode_events("bomb.json.gz", (tmp_path / "bomb.json.gz").read_bytes(), max_bytes=8 << 20)


def test_a_plain_file_over_the_cap_fails_unread(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(orjson.dumps([api_call()]) + b" " * 2048)
    [read] = read_files(local_files([big]), max_bytes=1024)
    assert read.failed == "larger than 1 KB uncompressed, the limit per file (--max-file-bytes)"


def test_default_cap_is_one_gigabyte():
    from provision.cloudtrail import records

    assert records.MAX_FILE_BYTES == 1 << 30
    assert "--max-file-bytes" in cli("import", "--help").output


# -- Integers beyond 64 bits -----------------------------------------------------------------------

def test_integers_beyond_64_bits_stay_exact_in_event_original_and_the_dead_letter_file(es, index_prefix, tmp_path):
    big = "123456789012345678901234567890"
    good = orjson.dumps(api_call(eventID="big")).replace(b'"requestParameters":', b'"requestParameters":{"n":' + big.encode() + b'},"was":', 1)
    bad = orjson.dumps(api_call(eventID="bad", eventTime="not a time")).replace(b'"requestParameters":', b'"n2":-' + big.encode() + b',"requestParameters":', 1)
    (tmp_path / "big.json").write_bytes(b'{"Records":[' + good + b"," + bad + b"]}")
    dead = tmp_path / "dead.ndjson"
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, dead_letter_path=dead, profile="full")
    assert (summary.events_indexed, summary.events_failed) == (1, 1)
    hit = flat_source(es.search(index=f"{index_prefix}-*", query={"term": {"event.id": "big"}})["hits"]["hits"][0]["_source"])
    assert f'"n":{big}' in hit["event.original"]
    assert f'"n2":-{big}'.encode() in dead.read_bytes()


def _streamed(monkeypatch) -> list[int]:
    """Files past 64 KB stream, in parts of 32 KB of bulk lines (the defaults are 64 MB and
    8 MB: the same code with small numbers, so a test file of a megabyte has many parts).
    Converting happens in this process, where the streamed files are converted anyway."""
    from provision.ingest import bulklines, convert
    from provision.cloudtrail import records

    monkeypatch.setattr(records, "STREAM_AFTER_BYTES", 64 << 10)
    monkeypatch.setattr(bulklines, "PART_BYTES", 32 << 10)
    parts: list[int] = []
    real = convert.convert_parts

    def counted(*args, **kwargs):
        for part in real(*args, **kwargs):
            parts.append(part.events)
            yield part

    monkeypatch.setattr(convert, "convert_parts", counted)  # the real function, its parts counted
    return parts


@pytest.mark.parametrize("gz", [True, False])
def test_a_large_file_streams_in_parts_and_every_event_is_accounted_for(es, index_prefix, tmp_path, monkeypatch, gz):
    parts = _streamed(monkeypatch)
    events = [api_call(eventID=f"s{i}", eventTime="2024-07-01T00:00:00Z" if i % 97 == 5 else "2024-05-06T07:08:09Z")
              for i in range(600)]
    events[300]["eventTime"] = "not a time"
    path = write_trail_file(tmp_path / "big.json.gz", events, gz=gz)   # the name says .gz; the content decides
    # July documents are refused (an index with a conflicting mapping): their originals are
    # found again by streaming the file up to them.
    es.indices.create(index=f"{index_prefix}-2024.07", mappings={"properties": {"cloud": {"properties": {"region": {"type": "long"}}}}})
    done: list = []
    dead = tmp_path / "dead.ndjson"
    summary = run_import(es, local_files([path]), index_prefix=index_prefix, dead_letter_path=dead, processes=0,
                         on_file_done=lambda source, outcome: done.append(outcome))
    july = [e["eventID"] for e in events if e["eventTime"].startswith("2024-07")]
    assert accounted(summary) and summary.files_read == 1 and summary.events_read == 600
    assert len(parts) > 5 and sum(parts) == 600
    assert (summary.events_indexed, summary.events_failed) == (600 - 1 - len(july), 1 + len(july))
    assert [(o.events, o.indexed, o.failed) for o in done] == [(600, 600 - 1 - len(july), 1 + len(july))]
    lines = dead_lines(dead)
    assert sorted(d["event"]["eventID"] for d in lines) == sorted(["s300", *july])
    hints = hints_from_sources([str(path)])
    assert hints.events_read == 600 and hints.events_unusable == 1 and hints.distinct_events == 599


def test_a_streamed_file_cut_off_keeps_its_events_and_a_bomb_stops_at_the_cap(es, index_prefix, tmp_path, monkeypatch):
    _streamed(monkeypatch)
    whole = gzip.compress(orjson.dumps({"Records": [api_call(eventID=f"c{i}", requestParameters={"pad": os.urandom(100).hex()}) for i in range(600)]}))
    (tmp_path / "cut.json.gz").write_bytes(whole[: len(whole) * 3 // 4])
    (tmp_path / "bomb.json.gz").write_bytes(gzip.compress(b'{"Records":[' + orjson.dumps(api_call(eventID="b")) + b"," + b" " * (32 << 20) + b"]}"))
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, dead_letter_path=tmp_path / "d.ndjson",
                         processes=0, max_file_bytes=16 << 20)
    assert accounted(summary) and 300 < summary.events_indexed < 600 and not summary.ok
    reasons = {Path(f["path"]).name: f["reason"] for f in summary.failed_files}
    assert reasons["bomb.json.gz"] == "partly read: larger than 16 MB uncompressed, the limit per file (--max-file-bytes)"
    assert reasons["cut.json.gz"].startswith("partly read: corrupt gzip: truncated after")


def test_a_deep_event_holding_a_big_integer_fails_alone_too():
    """The exact-integer parser (Python's json) has its own depth limit: the same reason."""
    deep = b'{"eventID":"d","n":123456789012345678901234567890,"x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    events = decode_events("x.json", b'{"Records":[' + orjson.dumps(api_call(eventID="a")) + b"," + deep + b"]}")
    assert events[0]["eventID"] == "a"
    assert isinstance(events[1], Unreadable) and events[1].reason.startswith("nested deeper than 1024 levels")
