"""Small things said plainly: a TLS failure names its cause (a CA file that is missing or not
a certificate, a host name the certificate does not hold), a dead-letter folder that takes
no files is not called missing, `--json` answers on stdout when a cluster block stops the
import, and an index prefix Elasticsearch would refuse is refused up front. Elasticsearch is
the real test node; the TLS server is a small one of our own on 127.0.0.1 (a certificate
for another name, made with openssl)."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from provision.core.connection import EsConfig, client
from tests.support.cli import CTSTACK, invoke, no_traceback
from tests.support.events import api_call, write_trail_file


@pytest.fixture()
def tls_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only other.example; (its URL, the certificate)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                           "-days", "2", "-subj", "/CN=other.example", "-addext", "subjectAltName=DNS:other.example"],
                          capture_output=True, text=True)
    assert made.returncode == 0, f"openssl could not make the test certificate: {made.stderr}"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.slow  # openssl makes a key, a TLS server answers
def test_a_tls_failure_names_its_cause(tls_server, tmp_path):
    url, cert = tls_server
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is no certificate\n")
    trail = write_trail_file(tmp_path / "t.json.gz", [api_call()])
    cases = {
        str(tmp_path / "missing.pem"): "missing.pem (--es-ca-certs) does not exist",
        str(garbage): "garbage.pem (--es-ca-certs) holds no PEM certificate",
        str(tmp_path): "is a folder",
        str(cert): "hostname '127.0.0.1' doesn't match 'other.example'",
    }
    for ca, cause in cases.items():
        for args in (["import", str(trail)], ["status"], ["hints"], ["reflag"]):
            result = invoke(*args, "--es-url", url, "--es-ca-certs", ca, home=tmp_path / "home")
            no_traceback(result)
            assert result.exit_code == 1, (args, result.output)
            assert cause in result.output and "TlsError" not in result.output, (args, result.output)


def test_a_dead_letter_folder_that_takes_no_files_is_not_called_missing(es_url, index_prefix, tmp_path):
    trail = write_trail_file(tmp_path / "t.json.gz", [api_call()])
    result = invoke("import", str(trail), "--es-url", es_url, "--index-prefix", index_prefix,
                    "--dead-letter", "/proc/ctstack-dead.ndjson", home=tmp_path)
    assert result.exit_code == 1
    assert "the folder /proc does not take new files" in result.stderr and "does not exist" not in result.stderr, result.stderr
    result = invoke("import", str(trail), "--es-url", es_url, "--index-prefix", index_prefix,
                    "--dead-letter", str(tmp_path / "no" / "dead.ndjson"), home=tmp_path)
    assert "does not exist" in result.stderr


def test_json_output_answers_on_stdout_when_a_cluster_block_stops_the_import(private_es_node, tmp_path):
    trail = write_trail_file(tmp_path / "t.json.gz", [api_call()])
    es = client(EsConfig(url=private_es_node.url))
    es.cluster.put_settings(persistent={"cluster.blocks.read_only": True})
    try:
        result = invoke("import", str(trail), "--es-url", private_es_node.url, "--json", "--dead-letter", str(tmp_path / "d.ndjson"),
                        home=tmp_path)
    finally:
        es.cluster.put_settings(persistent={"cluster.blocks.read_only": None})
    no_traceback(result)
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and ("read_only" in answer["error"] or "read-only" in answer["error"]), answer


@pytest.mark.parametrize("prefix", ["CloudTrail", "trail*", "_trail", "a b", "x:y"])
def test_an_index_prefix_elasticsearch_would_refuse_is_refused_up_front(es, es_url, tmp_path, prefix):
    trail = write_trail_file(tmp_path / "t.json.gz", [api_call()])
    for args in (["import", str(trail)], ["hints"], ["report", "--from-es", "-o", str(tmp_path / "r.html")], ["reflag"],
                 ["provision", "--skip-kibana"]):
        result = invoke(*args, "--es-url", es_url, "--index-prefix", prefix, home=tmp_path)
        no_traceback(result)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith(f"Error: --index-prefix {prefix!r} "), (args, result.stderr)
        assert "HTTP 400" not in result.output
    templates = es.options(ignore_status=404).indices.get_index_template(name="*").body.get("index_templates", [])
    assert prefix not in [t["name"] for t in templates]


def test_killing_the_multiprocessing_resource_tracker_prints_no_traceback(es_url, index_prefix, tmp_path):
    """The helper process multiprocessing starts for the converting pool's semaphores is killed
    while `ctstack import --processes 2` runs: the import ends with its summary, every event
    accounted for, and stderr holds no stdlib traceback or warning about it."""
    import os
    import signal
    import time

    from tests.support.events import many_events

    for i in range(20):  # uncompressed: past the bytes converted in-process before the pool starts
        write_trail_file(tmp_path / "logs" / f"{i}.json", many_events(2000, seed=f"tracker{i}"), gz=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTSTACK_")}
    proc = subprocess.Popen([CTSTACK, "import", str(tmp_path / "logs"), "--es-url", es_url, "--index-prefix", index_prefix,
                             "--processes", "2", "--json", "--dead-letter", str(tmp_path / "dead.ndjson")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed = False
    seen_children: list[str] = []
    deadline = time.monotonic() + 120
    while not killed and proc.poll() is None and time.monotonic() < deadline:
        children = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
        seen_children.append(children)
        for line in children.splitlines():
            pid, _, args = line.strip().partition(" ")
            if "resource_tracker" in args:
                os.kill(int(pid), signal.SIGKILL)
                killed = True
        time.sleep(0.05)
    out, err = proc.communicate(timeout=300)
    assert killed, f"the resource tracker was never seen: {seen_children[-3:]} {err[-2000:]}"
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["events_read"] == summary["events_indexed"] == 40_000 and summary["convert_processes"] == 2
    assert "Traceback" not in err and "resource_tracker" not in err, err
