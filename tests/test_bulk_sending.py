"""What the importer's client does with a bulk request on its way out and its answer on the
way back: a body already built goes as it is (no copy), and an answer that says every
document was created is read as such without a per-item walk, while any other answer is
read item by item as before. (Sending through a real node: tests/test_import_es.py and
tests/test_lying_answers.py.)"""

from __future__ import annotations

import pytest

from provision.ingest.bulkanswer import AllCreated, BulkAnswerUnknown, bulk_results
from provision.core.connection import AllCreatedAnswer, EsConfig, client

NDJSON_MIMETYPES = ("application/x-ndjson", "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
                    "application/vnd.elasticsearch+x-ndjson; compatible-with=9")


@pytest.mark.parametrize("mimetype", NDJSON_MIMETYPES)
def test_a_built_bulk_body_is_sent_as_built_not_copied(mimetype):
    es = client(EsConfig(url="http://127.0.0.1:9"))  # no request is made
    serializer = es.transport.serializers.get_serializer(mimetype)
    body = b'{"create":{"_index":"i","_id":"1"}}\n{"a":1}\n'
    assert serializer.dumps(body) is body
    # Anything else is still serialised as the client always did: a final newline is added.
    assert serializer.dumps(body[:-1]) == body
    assert serializer.dumps([{"create": {}}, {"a": 1}]) == b'{"create":{}}\n{"a":1}\n'
    es.close()


def test_an_answer_that_every_document_was_created_is_read_as_all_created():
    answer = {"items": [{"create": {"status": 201}}] * 3}
    results = bulk_results(answer, 3)
    assert isinstance(results, AllCreated)
    assert results == [(201, None)] * 3


@pytest.mark.parametrize("item", [{"create": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
                                  {"create": {"status": 200}}, {"index": {"status": 201}},
                                  {"create": {"status": 201, "result": "created"}}])
def test_any_other_answer_is_read_item_by_item(item):
    answer = {"items": [{"create": {"status": 201}}, item]}
    results = bulk_results(answer, 2)
    assert not isinstance(results, AllCreated)
    status = item[next(iter(item))]["status"]
    assert results == [(201, None), (status, item[next(iter(item))].get("error"))]


def test_an_all_created_answer_for_the_wrong_number_of_documents_is_unknown():
    with pytest.raises(BulkAnswerUnknown):
        bulk_results({"items": [{"create": {"status": 201}}] * 2}, 3)


CREATED = b'{"create":{"status":201}}'


@pytest.mark.parametrize("documents", [1, 2, 5000])
def test_an_all_created_answer_is_recognised_on_its_bytes_without_parsing(documents):
    es = client(EsConfig(url="http://127.0.0.1:9"))  # no request is made
    raw = b'{"items":[' + b",".join([CREATED] * documents) + b"]}"
    body = es.transport.serializers.get_serializer("application/json").loads(raw)
    assert isinstance(body, AllCreatedAnswer) and body == raw and body.documents == documents
    assert isinstance(bulk_results(body, documents), AllCreated)
    with pytest.raises(BulkAnswerUnknown):
        bulk_results(body, documents + 1)
    es.close()


@pytest.mark.parametrize("raw", [
    b'{"items":[' + CREATED + b"," + CREATED + b",," + b"]}",           # not JSON: never "all created"
    b'{"items":[' + CREATED + b',{"create":{"status":409}}]}',           # a conflict
    b'{"items":[' + CREATED + b"," + CREATED + b"]} ",                   # trailing bytes: parsed as usual
    b'{"items":[' + CREATED + b', ' + CREATED + b"]}",                   # other spacing: parsed as usual
])
def test_any_other_answer_bytes_are_parsed_as_json(raw):
    es = client(EsConfig(url="http://127.0.0.1:9"))
    serializer = es.transport.serializers.get_serializer("application/json")
    try:
        body = serializer.loads(raw)
    except Exception:  # not JSON: the client's own error, as before
        body = None
    assert not isinstance(body, AllCreatedAnswer)
    es.close()


def test_a_real_node_answering_all_created_is_read_on_its_bytes(es, index_prefix):
    """Against a real node: the import's bulk request (filtered to items.*.status) comes back
    as bytes the serializer recognises, so the fast path is the one taken in practice."""
    index = f"{index_prefix}-all-created"
    body = b"".join(b'{"create":{"_index":"%s","_id":"%d"}}\n{"a":%d}\n' % (index.encode(), i, i) for i in range(3))
    try:
        answer = es.bulk(operations=body, filter_path="items.*.status,items.*.error").body
        assert isinstance(answer, AllCreatedAnswer) and answer.documents == 3
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)


def test_a_sealed_chunk_cuts_any_of_its_documents_from_its_own_body_after_the_files_let_theirs_go():
    """Documents answered 429 are sent again alone: their lines come from the chunk's body,
    as the files' converted bodies are gone once every document is in a sealed chunk."""
    from array import array

    from provision.cloudtrail.records import SourceFile
    from provision.ingest.bulklines import ConvertedFile
    from provision.ingest.inflight import Chunk, FileInFlight

    def converted(name: str, documents: int) -> tuple[FileInFlight, list[bytes]]:
        lines = [f'{{"create":{{"_id":"{name}{d}"}}}}\n{{"n":"{"x" * d}"}}\n'.encode() for d in range(documents)]
        ends = array("Q")
        for line in lines:
            ends.append((ends[-1] if ends else 0) + len(line))
        state = FileInFlight(SourceFile(name, bytes))
        state.converted = ConvertedFile(events=documents, body=bytearray(b"".join(lines)), ends=ends)
        return state, lines

    a, a_lines = converted("a", 5)
    b, b_lines = converted("b", 4)
    chunk = Chunk()
    # a's documents 2..4 (not from the start of its body), then b's 0..2
    chunk.add(a, 2, 3, memoryview(a.converted.body), a.converted.ends[1], a.converted.ends[4])
    chunk.add(b, 0, 3, memoryview(b.converted.body), 0, b.converted.ends[2])
    expected = a_lines[2:5] + b_lines[0:3]
    assert chunk.seal().parts == [] and chunk.body() == b"".join(expected)
    a.cut()
    b.cut()
    assert a.converted.body == b"" and b.converted.body == b""
    assert chunk.body_of([0, 3, 5]) == expected[0] + expected[3] + expected[5]
    assert chunk.body_of(list(range(6))) == chunk.body()
