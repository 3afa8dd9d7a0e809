"""Secrets inside logged values never reach a document, the dead-letter file, hints (table,
JSON, scripts) or the report: URL passwords (``https://user:PASS@host``,
``postgres://admin:PASS@db``), presigned URLs' session tokens and signatures, ``Authorization:
Bearer ...`` values, and ``token`` / ``authToken`` / ``password`` / ``clientSecret`` values
under any key. What is around them stays. Elasticsearch is the real test node."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from provision.cli.commands import app
from provision.cloudtrail.documents import document_and_line
from provision.cloudtrail.scrub import holds_secret_name, scrub, scrub_secret_values, scrubbed_line
from provision.ingest.importer import run_import
from provision.sources.local import local_files
from tests.support.events import console_write, api_call, write_trail_file

MARK = "Zq9"  # every secret below holds it; nothing a person or a file sees may

SECRETS = {
    "DATABASE_URL": "postgres://admin:Zq9dbpass@db.internal:5432/app",
    "ENDPOINT": "https://deploy:Zq9p/ss#x@git.example.com/repo.git",
    "DOWNLOAD": ("https://bucket.s3.amazonaws.com/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x"
                 "&X-Amz-Security-Token=Zq9IQoJb3JpZ2luX2VjE%2F&X-Amz-Signature=Zq9abcdef0123"),
    "HEADER": "Authorization: Bearer Zq9eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "BASIC": "authorization=Basic Zq9dXNlcjpwYXNz",
    "CALLBACK": "https://hooks.example.com/cb?user=ops&token=Zq9hook&keep=visible",
    "token": "Zq9plain-token",
    "authToken": "Zq9auth",
    "password": "Zq9password",
    "clientSecret": "Zq9client",
    "db_password": "Zq9dbp",
}
KEPT = ["postgres://admin:", "db.internal:5432/app", "X-Amz-Algorithm=AWS4-HMAC-SHA256", "keep=visible", "Authorization: Bearer "]


def with_secrets(**changes) -> dict:
    return console_write(eventSource="lambda.amazonaws.com", eventName="UpdateFunctionConfiguration",
                         requestParameters={"functionName": "billing", "environment": {"variables": dict(SECRETS)},
                                            "nextToken": "page-2"},
                         errorMessage="The security token included in the request is invalid", **changes)


@pytest.mark.parametrize("name", ["p_assword", "pass-word", "a-c-c-e-s-s-k-e-y-i-d", "Client_Secret"])
def test_a_secret_key_spelled_with_separators_is_removed_like_the_plain_spelling(name):
    # The serialised line shows no plain "password" for these; the walk over the copied parts decides.
    event = console_write(eventSource="lambda.amazonaws.com", eventName="UpdateFunctionConfiguration",
                          requestParameters={"functionName": "billing", "environment": {"variables": {name: "Zq9odd"}}})
    for profile in ("standard", "full"):
        doc, line = document_and_line(event, profile)
        assert MARK not in line.decode() and MARK not in json.dumps(doc), (profile, name)
        assert "billing" in line.decode()


def test_secret_values_and_keys_are_removed_and_the_rest_kept():
    for profile in ("standard", "full"):
        doc, line = document_and_line(with_secrets(), profile)
        text = line.decode()
        assert MARK not in text and MARK not in json.dumps(doc)
        for kept in KEPT + ["page-2", "The security token included in the request is invalid"]:
            assert kept in text or kept.replace('"', '\\"') in text, (profile, kept)
        assert orjson.loads(line)  # still valid JSON, event.original included
    assert MARK not in scrubbed_line(with_secrets()).decode()
    plain = b'"Missing Authorization header; basic settings; see https://docs.example.com/a?b=c"'
    assert scrub_secret_values(plain) == plain


def test_no_secret_reaches_the_index_the_dead_letter_file_hints_or_the_report(es, es_url, index_prefix, tmp_path):
    logs = tmp_path / "logs"
    events = [with_secrets(eventID=f"s-{i}", eventTime=f"2024-05-{i + 1:02d}T10:00:00Z") for i in range(6)]
    events.append(with_secrets(eventID="s-bad", eventTime="not a time"))  # fails: to the dead-letter file
    write_trail_file(logs / "trail.json.gz", events)
    dead = tmp_path / "dead.ndjson"
    summary = run_import(es, local_files([logs]), index_prefix=index_prefix, profile="full", dead_letter_path=dead)
    assert (summary.events_indexed, summary.events_failed) == (6, 1)
    es.indices.refresh(index=f"{index_prefix}-*")
    stored = json.dumps([hit["_source"] for hit in es.search(index=f"{index_prefix}-*", size=100)["hits"]["hits"]])
    assert "db.internal:5432" in stored and MARK not in stored
    dead_text = dead.read_text()
    assert "db.internal:5432" in dead_text and MARK not in dead_text

    runner = CliRunner()
    outputs = []
    for args in (["hints", str(logs), "--workflows", "--script", str(tmp_path / "scripts")],
                 ["hints", str(logs), "--format", "json"],
                 ["hints", "--es-url", es_url, "--index-prefix", index_prefix, "--format", "json"],
                 ["report", str(logs), "-o", str(tmp_path / "offline.html")],
                 ["report", "--from-es", "--es-url", es_url, "--index-prefix", index_prefix, "-o", str(tmp_path / "es.html")]):
        result = runner.invoke(app, args, env={"CTSTACK_HOME": str(tmp_path / "home")})
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        outputs.append(result.output)
    assert "UpdateFunctionConfiguration" in outputs[1]
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix in ("", ".sh", ".html")]
    assert written, "no script or report was written"
    for text in outputs + written:
        assert MARK not in text


@pytest.mark.parametrize("value", ["mysql://root:Zq9@db", "redis://:Zq9pw@cache:6379", "amqp://u:Zq9:colon@mq",
                                   "https://x.example/p?sig=Zq9s", "Bearer Zq9abcdefgh"])
def test_each_secret_shape_is_caught_in_any_string(value):
    line = orjson.dumps({"any": {"where": [value]}})
    assert MARK not in scrub_secret_values(line).decode()


@pytest.mark.parametrize("keep_access_keys", [False, True])
@pytest.mark.parametrize("name", ["password", "NEW_PASSWORD", "p_assword", "secretAccessKey", "SessionToken",
                                  "accessKeyId", "a-c-c-e-s-s-k-e-y-i-d", "token", "credential", "nextToken",
                                  "KeyName", "userName", "passwordPolicy"])
def test_holds_secret_name_answers_whether_scrub_changes_the_value(name, keep_access_keys):
    """The cheap walk that lets a document skip the line's name hints says yes exactly when
    scrub() would drop or mask a key, at any depth, in objects and lists (and, erring safe, also
    for a masked key whose value scrub() leaves: None, "")."""
    for value in ({name: "v"}, {"a": {"b": [{"c": 1}, {name: "v"}]}}, [1, [{name: "v", "x": "y"}]], {"a": 1}):
        assert holds_secret_name(value, keep_access_keys) is (scrub(value, keep_access_keys) != value)
    assert holds_secret_name({name: None}, keep_access_keys) is holds_secret_name({name: "v"}, keep_access_keys)
