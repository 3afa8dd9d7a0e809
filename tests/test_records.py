"""Reading files into CloudTrail records: every format we accept, every reason we skip."""

from __future__ import annotations

import gzip
import os
import sys

import orjson
import pytest

from provision.cloudtrail.records import NOT_REGULAR, SkipFile
from provision.cloudtrail.decode import decode_events
from provision.core.errors import CtstackError
from provision.sources.local import local_files, source_files
from tests.support.events import api_call

EV = api_call()


def test_cloudtrail_delivery_file_gzipped():
    raw = gzip.compress(orjson.dumps({"Records": [EV, EV]}))
    assert decode_events("a.json.gz", raw) == [EV, EV]


def test_plain_json_records_file():
    assert decode_events("a.json", orjson.dumps({"Records": [EV]})) == [EV]


def test_json_array_of_events():
    assert decode_events("export.json", orjson.dumps([EV, EV])) == [EV, EV]


def test_one_event_per_line():
    raw = orjson.dumps(EV) + b"\n" + orjson.dumps(EV) + b"\n\n"
    assert decode_events("export.jsonl", raw) == [EV, EV]


def test_a_single_event_object():
    assert decode_events("one.json", orjson.dumps(EV)) == [EV]


def test_items_that_are_not_objects_are_returned_for_the_caller_to_fail():
    # They were read, so they must be accounted for downstream (as failed events).
    assert decode_events("a.json", orjson.dumps({"Records": [EV, 42]})) == [EV, 42]


@pytest.mark.parametrize(
    "name, raw, reason",
    [
        ("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz", b"{}", "CloudTrail digest file"),
        ("a.json", b"", "empty file"),
        ("a.json", b"  \n", "empty file"),
        ("a.json.gz", gzip.compress(b""), "empty file"),
        ("a.json.gz", b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
        ("a.json.gz", gzip.compress(b'{"Records": [1, 2')[:-6], "corrupt gzip"),
        ("a.json", b'{"Records": [', "invalid JSON"),
        ("a.json", b'{"Type": "Notification", "Message": "x"}', "no CloudTrail events"),
        ("a.json", b'{"Records": []}', "no CloudTrail events"),
        ("a.json", b"[]", "no CloudTrail events"),
        ("a.json", b"[1, 2, 3]", "no CloudTrail events"),
        ("a.json", b'"just a string"', "no CloudTrail events"),
    ],
)
def test_files_without_events_are_skipped_with_a_reason(name, raw, reason):
    with pytest.raises(SkipFile) as info:
        decode_events(name, raw)
    assert info.value.reason.startswith(reason)


def test_folder_walk_is_recursive_sorted_and_flags_foreign_files(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.json.gz").write_bytes(b"x")
    (tmp_path / "a.json").write_bytes(b"x")
    (tmp_path / "LICENSE").write_text("text")
    (tmp_path / ".hidden.json").write_text("{}")
    files = list(local_files([tmp_path]))
    names = [f.name.removeprefix(str(tmp_path) + "/") for f in files]
    assert names == ["LICENSE", "a.json", "b/2.json.gz"]
    assert files[0].skip_reason and "not a CloudTrail log file" in files[0].skip_reason
    assert files[1].skip_reason is None and files[1].read() == b"x"


def test_folder_walk_finds_what_os_walk_finds_and_follows_no_link_to_a_folder(tmp_path):
    """The walk lists each folder once (scandir) instead of os.walk plus a stat per file: the
    same files in the same order, links to files read, links to folders not walked into."""
    (tmp_path / "z" / "deep").mkdir(parents=True)
    (tmp_path / "z" / "deep" / "3.json").write_text("{}")
    (tmp_path / "z" / "1.json.gz").write_bytes(b"x")
    (tmp_path / "m.json").write_text("{}")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.json").write_text("{}")
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "o.json").write_text("{}")
    (tmp_path / "linked").symlink_to(outside, target_is_directory=True)
    (tmp_path / "a-link.json").symlink_to(tmp_path / "m.json")
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "dangling.json").symlink_to(tmp_path / "gone.json")
    (tmp_path / "dangling-notes").symlink_to(tmp_path / "gone")
    expected = []
    for root, dirs, files in os.walk(tmp_path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        expected += [os.path.join(root, name) for name in sorted(files) if not name.startswith(".")]
    found = list(local_files([tmp_path]))
    assert [f.name for f in found] == expected
    by_name = {f.name.removeprefix(str(tmp_path) + "/"): f for f in found}
    assert "linked/o.json" not in by_name
    assert by_name["a-link.json"].skip_reason is None and by_name["a-link.json"].read() == b"{}"
    assert by_name["pipe.json"].skip_reason == NOT_REGULAR
    assert by_name["dangling.json"].skip_reason is None and by_name["dangling.json"].size is None  # read, and fails saying why
    assert by_name["dangling-notes"].skip_reason and "not a CloudTrail log file" in by_name["dangling-notes"].skip_reason
    assert by_name["z/1.json.gz"].size == 1 and by_name["z/1.json.gz"].path == str(tmp_path / "z" / "1.json.gz")


def test_a_folder_tree_deeper_than_the_recursion_limit_is_walked(tmp_path):
    levels = [tmp_path]
    for _ in range(sys.getrecursionlimit() + 100):
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    bottom = levels[-1] / "bottom.json"
    bottom.write_text("{}")
    try:
        [found] = source_files([str(tmp_path)])  # as the CLI walks: first whether it holds a file at all
        assert found.name == str(bottom) and found.skip_reason is None
    finally:  # removed bottom up here: pytest's own clean-up (shutil.rmtree) recurses and would fail
        bottom.unlink()
        for level in reversed(levels[1:]):
            level.rmdir()


def test_a_folder_named_that_holds_no_file_is_refused_before_anything_is_read(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / ".hidden.json").write_text("{}")
    with pytest.raises(CtstackError, match="holds no files: there is nothing to read there"):
        list(source_files([str(tmp_path / "empty")]))
    (tmp_path / "empty" / "sub" / "NOTES").write_text("not a log")  # a file, if not a log: shown as skipped
    [notes] = source_files([str(tmp_path / "empty")])
    assert notes.skip_reason and "not a CloudTrail log file" in notes.skip_reason


def test_a_file_named_directly_is_always_read(tmp_path):
    path = tmp_path / "SQSMessageBody"
    path.write_text("{}")
    [f] = local_files([path])
    assert f.skip_reason is None


def test_missing_path_is_an_error_before_anything_is_read(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(local_files([tmp_path, tmp_path / "nope"]))


def test_folder_walk_is_lazy(tmp_path):
    """Files are handed out one by one (no list of the whole tree is built first)."""
    for i in range(3):
        (tmp_path / f"{i}.json").write_text("{}")
    walker = local_files([tmp_path])
    assert next(walker).name.endswith("0.json")


def test_read_files_gives_events_or_the_reason_there_are_none(tmp_path):
    from provision.cloudtrail.records import SourceFile
    from provision.cloudtrail.decode import read_files

    def unreadable() -> bytes:
        raise PermissionError("denied")

    good = tmp_path / "a.json"
    good.write_bytes(orjson.dumps({"Records": [EV]}))
    files = [
        SourceFile(str(good), good.read_bytes),
        SourceFile("b.json", lambda: b""),
        SourceFile("c.json", unreadable),
        SourceFile("README", lambda: b"", skip_reason="not a CloudTrail log file name"),
    ]
    results = [(r.source.name, r.events, r.skipped, r.failed) for r in read_files(files)]
    assert results == [
        (str(good), [EV], None, None),
        ("b.json", None, "empty file", None),
        ("c.json", None, None, "could not read: denied"),
        ("README", None, "not a CloudTrail log file name", None),
    ]
