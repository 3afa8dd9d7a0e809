"""Converting files in worker processes (provision/ingest/convert.py): the same documents as in one
process, in file order, every file accounted for, and a worker that dies costs only the file
it was converting. Real processes throughout (spawned, as in an import)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from provision.ingest import convert
from provision.cloudtrail import records
from provision.ingest.bulklines import ConvertOptions, action_line, convert_file
from provision.ingest.convert import Converter
from provision.ingest.importer import bulk_bodies
from provision.cloudtrail.records import SourceFile
from provision.sources.local import local_files
from tests.support.events import api_call, many_events, write_trail_file

OPTIONS = ConvertOptions("conv")


def trail_folder(root: Path, files: int = 12, per_file: int = 40) -> Path:
    for i in range(files):
        write_trail_file(root / "logs" / f"{i:03d}.json.gz", many_events(per_file, seed=f"c{i}"))
    return root / "logs"


def outcome(conversion) -> tuple:
    """What a file's conversion amounts to: (name, skipped, failed, events, documents' lines)."""
    converted = conversion.converted
    if converted is None:
        return conversion.source.name, None, conversion.failed, None, None
    lines = [converted.line(i) for i in range(converted.documents)]
    return conversion.source.name, converted.skipped, conversion.failed, converted.events, lines


@pytest.mark.slow  # worker processes
def test_worker_processes_give_the_same_lines_in_the_same_order_as_one_process(tmp_path):
    logs = trail_folder(tmp_path, files=30)
    (logs / "notes.txt").write_text("not a log")                       # skipped by name, in place
    write_trail_file(logs / "010b.json.gz", [api_call(eventTime="yesterday")])  # an event that fails
    (logs / "011b.json.gz").write_bytes(b"\x1f\x8b not really gzip")     # a file that is skipped

    with Converter(OPTIONS, processes=0) as here:
        expected = [outcome(c) for c in here.convert(local_files([logs]))]
    with Converter(OPTIONS, processes=2, pool_after_bytes=0) as pool:
        got = [outcome(c) for c in pool.convert(local_files([logs]))]
        assert pool._pool is not None, "the files went to worker processes"
    assert got == expected
    assert [name for name, *_ in got] == sorted(name for name, *_ in got)
    by_name = {Path(name).name: rest for name, *rest in got}
    assert by_name["notes.txt"][0].startswith("not a CloudTrail log file name")
    assert by_name["011b.json.gz"][0].startswith("corrupt gzip")
    assert by_name["010b.json.gz"][2] == 1 and by_name["010b.json.gz"][3] == []


def test_failures_carry_the_original_event_and_documents_know_their_position(tmp_path):
    events = [api_call(eventID="a"), api_call(eventID="b", eventTime="not a time"), api_call(eventID="c")]
    converted = convert_file("x.json", orjson.dumps({"Records": events}), OPTIONS)
    assert converted.events == 3 and converted.documents == 2
    [(position, reason, original)] = converted.failures
    assert (position, original["eventID"]) == (1, "b") and "no usable eventTime" in reason
    assert list(converted.positions()) == [0, 2]
    action = orjson.loads(converted.line(1).split(b"\n")[0])
    assert action == {"create": {"_index": "conv-2024.05", "_id": "c"}}


@pytest.mark.slow  # worker processes
def test_an_unreadable_file_fails_alone_whichever_process_reads_it(tmp_path):
    logs = trail_folder(tmp_path, files=8)
    files = list(local_files([logs]))
    Path(files[5].path).unlink()   # listed, then gone before a worker reads it

    def reset() -> bytes:
        raise ConnectionError("reset by peer")

    s3_like = SourceFile("s3://bucket/k.json.gz", read=reset)  # read in this process, like an S3 download
    with Converter(OPTIONS, processes=2, pool_after_bytes=0) as pool:
        got = {c.source.name: c for c in pool.convert([*files, s3_like])}
    assert len(got) == 9
    assert got[files[5].name].failed.startswith("could not read: [Errno 2]")
    assert got["s3://bucket/k.json.gz"].failed == "could not read: reset by peer"
    assert all(c.converted.documents == 40 for name, c in got.items() if name not in (files[5].name, "s3://bucket/k.json.gz"))


def _children_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of each process started by this one."""
    me, found = os.getpid(), {}
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:
                found[int(proc.name)] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.slow  # worker processes
def test_a_file_that_kills_its_worker_fails_alone_and_the_rest_convert(tmp_path):
    """A worker that dies (here: SIGKILLed once it has used 1 s of CPU, as a CPU or
    memory limit would end it, which only the poison file's 280,000 events take) loses every
    batch in flight; the converter starts new workers, retries file by file, fails only that
    file with the reason, and converts every other file exactly once, in order."""
    logs = trail_folder(tmp_path, files=20)
    poison = logs / "007b.jsonl.gz"
    # Small events, so the file stays under records.STREAM_AFTER_BYTES (a larger one is
    # streamed in the importing process, never sent to a worker).
    lines = [orjson.dumps({"eventTime": "2024-05-06T07:08:09Z", "eventID": f"p{i}"}) for i in range(280_000)]
    assert sum(map(len, lines)) + len(lines) < records.STREAM_AFTER_BYTES
    poison.write_bytes(gzip.compress(b"\n".join(lines), compresslevel=1))
    stop = threading.Event()
    kills: list[int] = []

    def killer() -> None:
        while not stop.is_set():
            for pid, seconds in _children_cpu_seconds().items():
                if seconds > 1.0 and pid not in kills:  # each worker once (a zombie still shows its time)
                    try:
                        os.kill(pid, signal.SIGKILL)   # a worker this test's converter started
                    except ProcessLookupError:
                        continue                       # it ended by itself meanwhile
                    kills.append(pid)
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with Converter(OPTIONS, processes=2, pool_after_bytes=0) as pool:
            got = [outcome(c) for c in pool.convert(local_files([logs]))]
    finally:
        stop.set()
        thread.join()
    assert len(kills) >= 2, "killed in its batch, then again when converted alone"
    names = [Path(name).name for name, *_ in got]
    assert names == sorted(p.name for p in logs.iterdir())
    failed = {Path(name).name: why for name, _, why, *_ in got if why}
    assert list(failed) == ["007b.jsonl.gz"]
    assert failed["007b.jsonl.gz"].startswith("could not convert: the process converting it stopped")
    assert all(events == 40 and len(lines) == 40 for name, _, why, events, lines in got if not why)


@pytest.mark.slow  # worker processes
def test_a_worker_killed_while_batches_wait_to_be_sent_costs_no_file(tmp_path, monkeypatch):
    """Batches of one file each, so four are in flight: a worker killed between two batches
    breaks the pool before the next is sent (the break surfaces in ``_submit``, not in a
    result). Nothing crashes: the lost batches are converted again by new workers, every
    file exactly once, in order (the killed worker held no file that kills workers)."""
    monkeypatch.setattr(convert, "BATCH_FILES", 1)
    logs = trail_folder(tmp_path, files=16)
    with Converter(OPTIONS, processes=2, pool_after_bytes=0) as pool:
        stream = pool.convert(local_files([logs]))
        got = [outcome(next(stream))]          # the window filled, the first batch came back
        executor = pool._pool
        os.kill(next(iter(executor._processes)), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not executor._broken and time.monotonic() < deadline:
            time.sleep(0.01)
        assert executor._broken, "the pool noticed its worker's death"
        got += [outcome(c) for c in stream]   # the next batch is sent to the broken pool
    assert [Path(name).name for name, *_ in got] == sorted(p.name for p in logs.iterdir())
    assert all(why is None and events == 40 and len(lines) == 40 for _, _, why, events, lines in got)


def test_a_file_with_a_large_text_is_converted_item_by_item_to_the_same_lines(tmp_path, monkeypatch):
    """Past DECODE_WHOLE_BYTES of text a file's events are never all decoded at once (a
    converting process holds one), and its bulk lines, failures and positions are those
    decoding it whole gives."""
    from provision.ingest import bulklines

    events = many_events(300, seed="large")
    events[7] = 5                                            # not an event: fails alone
    events[11] = {**events[11], "eventTime": "yesterday"}    # no usable time: fails alone
    write_trail_file(tmp_path / "large.json.gz", events)
    raw = (tmp_path / "large.json.gz").read_bytes()

    monkeypatch.setattr(bulklines, "DECODE_WHOLE_BYTES", 1 << 40)
    whole = convert_file("large.json.gz", raw, OPTIONS)
    monkeypatch.setattr(bulklines, "DECODE_WHOLE_BYTES", 1000)
    monkeypatch.setattr(bulklines, "decode_events", lambda *_: pytest.fail("decoded whole"))
    by_item = convert_file("large.json.gz", raw, OPTIONS)

    assert by_item.body == whole.body and list(by_item.ends) == list(whole.ends)
    assert [(p, r) for p, r, _ in by_item.failures] == [(p, r) for p, r, _ in whole.failures]
    assert [p for p, _, _ in whole.failures] == [7, 11]
    assert by_item.events == whole.events == 300 and by_item.indices == whole.indices


def test_a_large_file_that_is_no_trail_or_is_cut_gets_the_answer_decoding_whole_gives(tmp_path, monkeypatch):
    from provision.ingest import bulklines

    monkeypatch.setattr(bulklines, "DECODE_WHOLE_BYTES", 100)
    no_trail = gzip.compress(orjson.dumps([{"name": f"row {i}"} for i in range(200)]))
    assert convert_file("rows.json.gz", no_trail, OPTIONS).skipped == "no CloudTrail events (an array without events)"
    cut = gzip.compress(orjson.dumps({"Records": many_events(50, seed="cut")}))[:-40]
    converted = convert_file("cut.json.gz", cut, OPTIONS)
    monkeypatch.setattr(bulklines, "DECODE_WHOLE_BYTES", 1 << 40)
    assert converted == convert_file("cut.json.gz", cut, OPTIONS)


def test_a_small_import_converts_in_the_importing_process(tmp_path):
    """Under POOL_AFTER_BYTES read, no worker is started: a few files pay nothing for them."""
    logs = trail_folder(tmp_path, files=6)
    with Converter(OPTIONS, processes=2) as converter:
        got = [outcome(c) for c in converter.convert(local_files([logs]))]
        assert converter._pool is None
    assert len(got) == 6 and all(events == 40 for _, _, _, events, _ in got)


@pytest.mark.slow  # worker processes
@pytest.mark.parametrize("sizes_known", [True, False])
def test_an_import_past_the_pool_size_converts_nothing_in_the_importing_process(tmp_path, monkeypatch, sizes_known):
    """Past POOL_AFTER_BYTES of files (their sizes, known before reading; an unknown size
    counts as large), every file goes to a worker from the first: the importing process
    never holds decoded events or botocore's models."""
    logs = trail_folder(tmp_path, files=6)
    size = sum(p.stat().st_size for p in logs.iterdir())
    here: list[str] = []
    monkeypatch.setattr(convert, "convert_or_reason", lambda name, *_: here.append(name))  # spawned workers keep the real one
    sources = local_files([logs]) if sizes_known else (
        SourceFile(s.name, s.read, size=None, path=s.path) for s in local_files([logs]))
    with Converter(OPTIONS, processes=1, pool_after_bytes=size // 2) as converter:
        got = [outcome(c) for c in converter.convert(sources)]
        assert converter.workers_started == 1
    assert here == []
    assert len(got) == 6 and all(why is None and events == 40 for _, _, why, events, _ in got)


@pytest.mark.slow  # worker processes
def test_bulk_bodies_are_the_same_with_and_without_worker_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "POOL_AFTER_BYTES", 0)
    logs = trail_folder(tmp_path, files=15, per_file=150)
    one = list(bulk_bodies(local_files([logs]), processes=0, chunk_size=400, max_chunk_bytes=300_000))
    two = list(bulk_bodies(local_files([logs]), processes=2, chunk_size=400, max_chunk_bytes=300_000))
    assert one == two
    assert sum(n for n, _ in one) == 15 * 150
    assert all(n <= 400 and len(body) <= 300_000 for n, body in one)
    assert len({n for n, _ in one}) > 1, "chunks were cut by bytes as well as by count"


def test_a_single_document_larger_than_the_byte_limit_goes_alone(tmp_path):
    big = api_call(eventID="big", requestParameters={"policy": "x" * 50_000})
    write_trail_file(tmp_path / "a.json.gz", [api_call(eventID="1"), big, api_call(eventID="2")])
    chunks = list(bulk_bodies(local_files([tmp_path]), processes=0, max_chunk_bytes=10_000))
    assert [n for n, _ in chunks] == [1, 1, 1]
    assert b'"big"' in chunks[1][1]


def test_default_processes_follow_the_cores():
    cores = len(os.sched_getaffinity(0))
    assert convert.default_processes() == (0 if cores < 2 else min(cores, convert.MAX_DEFAULT_PROCESSES))


@pytest.mark.slow  # worker processes
def test_a_script_without_the_main_guard_gets_a_clear_error(tmp_path):
    """Spawned workers import the main module again; a script that imports at top level
    without `if __name__ == "__main__":` cannot start them. The error says what to do."""
    logs = trail_folder(tmp_path, files=8, per_file=5)
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import provision.ingest.convert\n"
        "provision.ingest.convert.POOL_AFTER_BYTES = 0\n"
        "from provision.ingest.importer import bulk_bodies\n"
        "from provision.sources.local import local_files\n"
        f"print(sum(n for n, _ in bulk_bodies(local_files([{str(logs)!r}]), processes=2)))\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode != 0
    assert "Could not start processes to convert files" in result.stderr
    assert 'if __name__ == "__main__":' in result.stderr and "processes=0" in result.stderr


@pytest.mark.slow  # worker processes
def test_processes_option_of_the_cli_is_checked():
    ctstack = str(Path(sys.executable).parent / "ctstack")
    result = subprocess.run([ctstack, "import", "/nonexistent", "--processes", "-1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--processes" in result.stderr


@pytest.mark.slow  # worker processes
@pytest.mark.parametrize("processes", [0, 2])
def test_import_with_and_without_workers_counts_every_event(es, index_prefix, tmp_path, processes, monkeypatch):
    """Against the real node: documents Elasticsearch refuses go to the dead-letter file with
    their original event, which the importer finds again from the bytes a worker read."""
    from provision.ingest.importer import run_import

    monkeypatch.setattr(convert, "POOL_AFTER_BYTES", 0)
    logs = trail_folder(tmp_path, files=10, per_file=30)
    write_trail_file(logs / "004b.json.gz", [api_call(eventID=f"jun-{processes}", eventTime="2024-06-01T00:00:00Z"),
                                             api_call(eventID=f"may-{processes}")])
    write_trail_file(logs / "005b.json.gz", [api_call(eventID=f"bad-{processes}", eventTime="")])
    index = f"{index_prefix}-2024.06"
    es.indices.create(index=index, mappings={"properties": {"cloud": {"properties": {"region": {"type": "long"}}}}})
    summary = run_import(es, local_files([logs]), index_prefix=index_prefix, processes=processes,
                         dead_letter_path=tmp_path / "dead.ndjson")
    assert summary.to_dict()["convert_processes"] == processes
    assert summary.events_read == 10 * 30 + 3
    assert (summary.events_indexed, summary.events_failed) == (10 * 30 + 1, 2)
    dead = {d["event"]["eventID"]: d for d in map(orjson.loads, (tmp_path / "dead.ndjson").read_bytes().splitlines())}
    assert set(dead) == {f"jun-{processes}", f"bad-{processes}"}
    assert "rejected by Elasticsearch" in dead[f"jun-{processes}"]["reason"]
    assert dead[f"jun-{processes}"]["source"].endswith("004b.json.gz")
    assert "no usable eventTime" in dead[f"bad-{processes}"]["reason"]


@pytest.mark.slow  # worker processes
def test_the_ctstack_command_imports_through_worker_processes(es, es_url, index_prefix, tmp_path):
    """`ctstack import` as a user runs it (the console script, whose module spawned workers
    import again) on more than POOL_AFTER_BYTES of logs: the workers start, every event is
    indexed once, and a second run finds them all present."""
    from provision.demo.generate import write_sample

    stats = write_sample(tmp_path / "trail", events=15_000, seed=3)
    assert stats.compressed_bytes > convert.POOL_AFTER_BYTES, "enough logs for the workers to start"
    ctstack = str(Path(sys.executable).parent / "ctstack")
    command = [ctstack, "import", str(tmp_path / "trail"), "--json", "--processes", "2",
               "--es-url", es_url, "--index-prefix", index_prefix, "--dead-letter", str(tmp_path / "dead.ndjson")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    summary = orjson.loads(first.stdout)
    assert summary["convert_processes"] == 2, "the workers started"
    assert summary["events_read"] == summary["events_indexed"] == 15_000
    es.indices.refresh(index=f"{index_prefix}-*")
    assert es.count(index=f"{index_prefix}-*")["count"] == 15_000
    # --full: read every file again through the workers (unchanged files are skipped otherwise)
    second = orjson.loads(subprocess.run([*command, "--full"], capture_output=True, text=True, timeout=600, cwd=tmp_path).stdout)
    assert (second["events_indexed"], second["events_duplicate"]) == (0, 15_000)


@pytest.mark.slow  # worker processes
def test_workers_of_the_ctstack_script_do_not_import_the_cli(tmp_path):
    """Spawned workers import the main script again; the `ctstack` script's entry module
    imports nothing, so a worker holds no CLI, no Elasticsearch client (quick to start)."""
    script = tmp_path / "like_ctstack.py"
    script.write_text(
        "import sys\n"
        "from provision.entry import main\n"
        "def loaded():\n"
        "    import sys\n"
        "    return sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'elasticsearch', 'provision'))\n"
        "if __name__ == '__main__':\n"
        "    import multiprocessing\n"
        "    from concurrent.futures import ProcessPoolExecutor\n"
        "    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn')) as pool:\n"
        "        print(pool.submit(loaded).result())\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['provision', 'provision.entry']"
    entry = (Path(sys.executable).parent / "ctstack").read_text()
    assert "from provision.entry import main" in entry


@pytest.mark.parametrize("index", ["ctstack-events-2025.03", "odd \"quoted\" \\ index", "ünïcode-\u2028-\x01"])
@pytest.mark.parametrize("document_id", ["3f2a9c", "with \"quote\" and \\ and \n newline", "\x00\x1f\u2029"])
def test_action_line_is_the_bytes_orjson_writes_for_the_create_action(index, document_id):
    """The action line built from a per-index head plus the _id is what serialising the whole
    action writes, for any index or id text (quotes, backslashes, control characters)."""
    heads: dict[str, bytes] = {}
    expected = orjson.dumps({"create": {"_index": index, "_id": document_id}}, option=orjson.OPT_APPEND_NEWLINE)
    assert action_line(index, document_id, heads) == expected
    assert action_line(index, document_id, heads) == expected  # again, from the head kept in heads
    assert list(heads) == [index]
