"""Passwords in URLs never show, however the URL is written, and a URL without a port works.

Every option and environment variable that takes a URL (``--es-url``, ``--kibana-url``,
``CTSTACK_ES_URL``, ``CTSTACK_KIBANA_URL``) in every command that reads it, with passwords
of every printable class (letters, digits, each punctuation character, a space), unencoded,
with and without a scheme, and in URLs that cannot be parsed. Elasticsearch is the real test
node; Kibana cannot run here, so tests/support/fake_kibana.py stands in (its documented
saved-objects contract)."""

from __future__ import annotations

import string

import pytest

from provision.core.connection import EsConfig
from provision.core.urls import display_url, parse_url
from provision.core.errors import CtstackError
from provision.stack.kibana import KibanaConfig
from tests.support.cli import invoke, no_traceback
from tests.support.events import api_call, write_trail_file

# Each password holds the two markers; neither may appear anywhere a person or a file sees.
MARKS = ("Zq9", "Wv7")
PASSWORDS = [f"Zq9{c}Wv7" for c in string.punctuation + " "] + ["Zq9Wv7", f"Zq9{string.punctuation}Wv7"]


def assert_hidden(*texts: str) -> None:
    for text in texts:
        for mark in MARKS:
            assert mark not in text, text


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_of_any_printable_class_is_parsed_whole_and_never_displayed(password):
    for raw in (f"elastic:{password}@es.example:9200", f"https://elastic:{password}@es.example:9200/prefix/"):
        parsed = parse_url(raw)
        assert (parsed.user, parsed.url.endswith("es.example:9200") or parsed.url.endswith(":9200/prefix")) == ("elastic", True)
        if "%" not in password:  # %XX is percent-encoding: a literal % in a password is written %25
            assert parsed.password == password
        assert_hidden(display_url(raw), parsed.url, repr(EsConfig(url=raw)))
    for broken in (f"http://elastic:{password}@[::1", f"http://elastic:{password}@host:99999", f"ftp://elastic:{password}@host"):
        with pytest.raises(CtstackError) as raised:
            parse_url(broken)
        assert_hidden(str(raised.value))


def test_a_url_without_a_port_gets_the_services_port_over_http():
    assert parse_url("localhost").url == "http://localhost:9200"
    assert parse_url("http://localhost").url == "http://localhost:9200"
    assert parse_url("http://localhost/", "--kibana-url").url == "http://localhost:5601"
    assert EsConfig(url="http://es.example").url == "http://es.example:9200"
    assert KibanaConfig(url="kibana.example").url == "http://kibana.example:5601"
    assert parse_url("https://es.example").url == "https://es.example"  # the https standard port, 443
    assert parse_url("http://[::1]").url == "http://[::1]:9200"


def test_no_password_in_any_url_option_or_variable_shows_in_any_command(es_url, index_prefix, kibana, tmp_path):
    """Each command that reads a URL, given it by option and by variable, scheme-less (the
    note line) and with a scheme: it works (the test node has no security, so the login is
    sent and ignored) and no output or written file holds the password."""
    trail = write_trail_file(tmp_path / "trail.json.gz", [api_call(eventID=f"u-{i}", eventName="PutMetricAlarm") for i in range(3)])
    host = es_url.removeprefix("http://")
    kibana_host = kibana.url.removeprefix("http://")
    report = tmp_path / "report.html"
    es_commands = {
        "import": ["import", str(trail), "--index-prefix", index_prefix, "--dead-letter", str(tmp_path / "dead.ndjson")],
        "hints": ["hints", "--index-prefix", index_prefix, "--format", "json"],
        "report": ["report", "--from-es", "--index-prefix", index_prefix, "-o", str(report)],
        "reflag": ["reflag", "--index-prefix", index_prefix],
        "status": ["status", "--json"],
        "provision": ["provision", "--skip-kibana", "--index-prefix", index_prefix],
    }
    for password in (PASSWORDS[-1], "Zq9/Wv7", "Zq9@Wv7", "Zq9#Wv7?"):
        for shape in ("elastic:{p}@{h}", "http://elastic:{p}@{h}"):
            url = shape.format(p=password, h=host)
            for name, args in es_commands.items():
                for given in ({"args": ["--es-url", url], "env": {}}, {"args": [], "env": {"CTSTACK_ES_URL": url}}):
                    result = invoke(*args + given["args"], home=tmp_path / "home", env=given["env"])
                    assert result.exit_code == 0, (name, url, result.output)
                    no_traceback(result)
                    assert_hidden(result.output, result.stderr)
            assert_hidden(report.read_text())
            kibana_url = shape.format(p=password, h=kibana_host)
            for args in (["status", "--es-url", es_url, "--kibana-url", kibana_url],
                         ["provision", "--es-url", es_url, "--kibana-url", kibana_url, "--index-prefix", index_prefix]):
                for env in ({}, {"CTSTACK_KIBANA_URL": kibana_url}):
                    call = [a for a in args if a != kibana_url and a != "--kibana-url"] if env else args
                    result = invoke(*call, home=tmp_path / "home", env=env)
                    no_traceback(result)
                    assert_hidden(result.output, result.stderr)
    assert_hidden(*(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".gz"))


def test_a_broken_url_with_a_password_is_one_sentence_without_it_in_every_command(tmp_path):
    trail = write_trail_file(tmp_path / "trail.json.gz", [api_call(eventID="b-1")])
    for url in ("http://elastic:Zq9/Wv7@[::1", "http://elastic:Zq9#Wv7@host:99999", "elastic:Zq9?Wv7@host:port"):
        for args in (["import", str(trail)], ["hints"], ["report", "--from-es"], ["status"], ["reflag"],
                     ["provision", "--skip-kibana"]):
            for env in ({}, {"CTSTACK_ES_URL": url}):
                result = invoke(*args + ([] if env else ["--es-url", url]), home=tmp_path / "home", env=env)
                assert result.exit_code == 1, (args, url, result.output)
                no_traceback(result)
                assert result.stderr.startswith("Error: --es-url "), result.stderr
                assert_hidden(result.output, result.stderr)


def test_a_url_without_a_port_reaches_the_default_port_in_every_command(tmp_path):
    """``--es-url http://localhost`` / ``localhost``: no ValueError traceback; the command tries
    port 9200 and says so (whether something answers there is not this test's business)."""
    trail = write_trail_file(tmp_path / "trail.json.gz", [api_call(eventID="p-1")])
    for url in ("http://localhost", "localhost", "http://127.0.0.1/"):
        for args in (["import", str(trail)], ["hints"], ["report", "--from-es", "-o", str(tmp_path / "r.html")], ["status"],
                     ["reflag"], ["provision", "--skip-kibana"]):
            result = invoke(*args + ["--es-url", url], home=tmp_path / "home")
            no_traceback(result)
            assert "has no " in result.stderr and ":9200" in result.stderr, (args, url, result.stderr)


def test_aws_endpoint_and_queue_urls_with_a_login_are_refused_without_showing_it(es_url, tmp_path):
    """--endpoint-url, CTSTACK_S3_ENDPOINT_URL and --sqs-queue: AWS endpoints take no login,
    and botocore's errors would print the URL whole; a URL holding one is refused in one
    sentence that shows it without the user info (also without a scheme)."""
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for password in ("Zq9Wv7", "Zq9/Wv7", "Zq9@Wv7"):
        for url in (f"http://u:{password}@127.0.0.1:1", f"u:{password}@127.0.0.1:1"):
            for args, env in ((["hints", "s3://trails/AWSLogs/", "--endpoint-url", url], aws),
                              (["hints", "s3://trails/AWSLogs/"], {**aws, "CTSTACK_S3_ENDPOINT_URL": url}),
                              (["import", "--sqs-queue", f"{url}/123456789012/q", "--es-url", es_url], aws)):
                result = invoke(*args, home=tmp_path / "home", env=env)
                no_traceback(result)
                assert result.exit_code == 1, (args, result.output)
                assert "holds a user or password" in result.stderr, (args, result.stderr)
                assert_hidden(result.output, result.stderr)
    result = invoke("hints", "s3://trails/AWSLogs/", home=tmp_path / "home", env={**aws, "CTSTACK_S3_ENDPOINT_URL": "127.0.0.1:1"})
    no_traceback(result)
    assert "CTSTACK_S3_ENDPOINT_URL 127.0.0.1:1 is not an http:// or https:// URL." in result.stderr
