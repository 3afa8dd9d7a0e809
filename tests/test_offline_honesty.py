"""`hints` and `report` read files as `import` does and say the truth the same way: events
nested too deep are counted as unusable (no traceback), files that could not be read in full
make the exit code 1, a UTF-8 byte order mark is no reason to skip a file, and a skipped file
never claims a dead-letter copy. Elasticsearch is the real test node."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest

from provision.ingest.importer import run_import
from provision.cloudtrail.records import UTF8_BOM
from provision.cloudtrail.decode import decode_events
from provision.cloudtrail.itemstream import ItemStream
from provision.sources.local import local_files
from tests.support.cli import invoke, no_traceback
from tests.support.events import console_write, many_events, write_trail_file

BOM = UTF8_BOM


def nested(depth: int) -> str:
    """A placeholder for a JSON object nested ``depth`` levels (written as text: no JSON
    library writes that deep)."""
    return f"@@DEEP{depth}@@"


def deep_text(text: str) -> str:
    import re

    return re.sub(r'"@@DEEP(\d+)@@"', lambda m: '{"a":' * (int(m[1]) - 1) + "{}" + "}" * (int(m[1]) - 1), text)


def test_events_nested_too_deep_are_unusable_in_hints_and_report_not_a_traceback(tmp_path):
    """Depths the parser reads but a document cannot hold (254-1023): `import` fails them
    alone; `hints` and `report` count them as not usable and go on."""
    logs = tmp_path / "logs"
    deep = [console_write(eventID=f"deep-{depth}", requestParameters=nested(depth)) for depth in (260, 600, 1000)]
    deep.append(console_write(eventID="deep-response", responseElements=nested(400)))
    fine = [console_write(eventID=f"fine-{i}", eventTime=f"2024-05-0{i + 1}T10:00:00Z") for i in range(3)]
    (logs).mkdir()
    (logs / "trail.json").write_text(deep_text(json.dumps({"Records": deep + fine})))
    for args in (["hints", str(logs)], ["hints", str(logs), "--format", "json"], ["report", str(logs), "-o", str(tmp_path / "r.html")]):
        result = invoke(*args, home=tmp_path)
        no_traceback(result)
        assert result.exit_code == 0, (args, result.output)
    data = json.loads(invoke("hints", str(logs), "--format", "json", home=tmp_path).output)
    # The standard profile keeps a console change's response too: a response too deep fails it, as import does.
    assert data["events_unusable"] == 4 and data["unusable_reasons"] == {"nested deeper than 254 levels": 4}
    assert data["candidates"][0]["count"] == 3


def test_hints_and_report_exit_1_when_a_file_could_not_be_read_in_full_as_import_does(es_url, index_prefix, tmp_path):
    logs = tmp_path / "logs"
    write_trail_file(logs / "good.json.gz", many_events(5, seed="good"))
    cut = gzip.compress(orjson.dumps({"Records": many_events(50, seed="cut")}))
    (logs / "cut.json.gz").write_bytes(cut[: len(cut) // 2])                         # partly read
    write_trail_file(logs / "big.json", many_events(200, seed="big"), gz=False)     # over --max-file-bytes
    limit = str((logs / "big.json").stat().st_size - 1)
    imported = invoke("import", str(logs), "--es-url", es_url, "--index-prefix", index_prefix, "--max-file-bytes", limit,
                      "--dead-letter", str(tmp_path / "dead.ndjson"), home=tmp_path)
    assert imported.exit_code == 1, imported.output
    for args in (["hints", str(logs)], ["hints", str(logs), "--format", "json"], ["report", str(logs), "-o", str(tmp_path / "r.html")]):
        result = invoke(*args, "--max-file-bytes", limit, home=tmp_path)
        no_traceback(result)
        assert result.exit_code == 1, (args, result.output)
        assert "2 files could not be read in full" in result.stderr, result.stderr
    assert invoke("hints", str(logs / "good.json.gz"), home=tmp_path).exit_code == 0


def test_a_file_that_starts_with_a_utf8_bom_is_read_not_skipped(es, index_prefix, tmp_path):
    events = many_events(30, seed="bom")
    body = BOM + orjson.dumps({"Records": events})
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "plain.json").write_bytes(body)
    (logs / "zipped.json.gz").write_bytes(gzip.compress(BOM + orjson.dumps({"Records": many_events(20, seed="bomgz")})))
    (logs / "lines.jsonl").write_bytes(BOM + b"\n".join(orjson.dumps(e) for e in many_events(10, seed="bomlines")))
    assert len(decode_events("plain.json", body)) == 30
    assert len(list(ItemStream(body, None))) == 30  # the streamed path (large files) too
    summary = run_import(es, local_files([logs]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    assert summary.ok and summary.files_skipped == 0
    assert summary.events_read == summary.events_indexed == 60


def test_a_file_skipped_as_invalid_json_does_not_claim_a_dead_letter_copy(es, index_prefix, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "broken.json").write_bytes(b'{"eventTime": oops, "eventName": "x"}\n')
    summary = run_import(es, local_files([logs]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    assert summary.files_skipped == 1
    reason = summary.skipped_files[0]["reason"]
    assert reason.startswith("invalid JSON") and "dead-letter" not in reason
    assert not (tmp_path / "dead.ndjson").exists()


@pytest.mark.slow  # streams a 48 MB value
def test_one_huge_value_is_measured_a_logarithmic_number_of_times_not_once_per_chunk(monkeypatch):
    """A 48 MB string inside a Records array, streamed in 1 MB chunks: the reader measures
    the unfinished event again only after reading as many bytes again as it holds, so about
    log2(48) times, not 48 (which made a 1.5 GB value quadratic: hours). The time this
    saves is measured by bench/one_big_value.py, not here."""
    from provision.cloudtrail import itemstream

    calls = []
    measure = itemstream._parsed_end

    def counted(buf, pos):
        calls.append(len(buf) - pos)
        return measure(buf, pos)

    monkeypatch.setattr(itemstream, "_parsed_end", counted)
    body = b'{"Records": [{"eventName": "x", "v": "' + b"a" * (48 << 20) + b'"}]}'
    items = list(ItemStream(gzip.compress(body, 1), None))
    assert len(items) == 1 and len(items[0]["v"]) == 48 << 20
    assert len(calls) <= 10, len(calls)
    assert all(later >= 2 * earlier for earlier, later in zip(calls, calls[1:-1])), calls
