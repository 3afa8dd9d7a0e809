"""A digest of every bulk body the importer would send, to prove a change leaves documents
byte-for-byte as they were.

    python bench/bodies_digest.py FOLDER... [--secrets DIR] [--profiles standard,minimal,full] > after.json
    diff before.json after.json

Results are keyed by the folder's name and the profile (documents carry the file's path, as
given: compare runs made from the same folder with the same arguments).

``--small`` digests the small corpora (tests/data/cloudtrail, tests/data/edge-cases and the
secrets corpus, copied into a fresh folder and read by relative path, so the result does not
depend on where the repository is): tests/data/bodies-digest.json records them and
tests/test_bodies_digest.py compares against it. After a change meant to alter documents:
``python bench/bodies_digest.py --small > tests/data/bodies-digest.json``.

``--secrets DIR`` also writes (and digests) events full of what the scrubbing removes:
secret key names in every part copied from the event, spelled every way, and secrets
inside values, so a cut to the secret checks is compared where they matter.

Converts in this process (processes=0, so the bodies come in one fixed order), through
importer.bulk_bodies: ids, action lines, documents, chunking. Prints, per folder and
profile, the documents, requests and the SHA-256 of all bodies in order.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provision.ingest import importer  # noqa: E402
from provision.sources.local import local_files  # noqa: E402


PROFILES = ("standard", "minimal", "full")
SMALL_CORPORA = ("cloudtrail", "edge-cases")


def digest(folder: Path, profile: str) -> dict:
    sha, docs, bodies = hashlib.sha256(), 0, 0
    for count, body in importer.bulk_bodies(local_files([folder]), index_prefix="ctstack-check",
                                            profile=profile, processes=0):
        sha.update(body)
        docs += count
        bodies += 1
    return {"documents": docs, "requests": bodies, "sha256": sha.hexdigest()}


def small_corpora_digests(profiles: tuple[str, ...] = PROFILES) -> dict[str, dict]:
    """The digests tests/data/bodies-digest.json records (see ``--small``)."""
    data = Path(__file__).resolve().parent.parent / "tests" / "data"
    previous = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            for name in SMALL_CORPORA:
                shutil.copytree(data / name, name)
            write_secret_corpus(Path("secrets"))
            return digests([Path(name) for name in (*SMALL_CORPORA, "secrets")], list(profiles))
        finally:
            os.chdir(previous)


def digests(folders: list[Path], profiles: list[str]) -> dict[str, dict]:
    """``{"FOLDER_NAME:PROFILE": digest}`` for every folder and profile."""
    return {f"{folder.name}:{profile}": digest(folder, profile) for folder in folders for profile in profiles}


# Key names scrub() drops or masks (and some it keeps), spelled as APIs and people spell them.
SECRET_NAMES = ("password", "Password", "NEW_PASSWORD", "p_assword", "pass-word", "passwd", "passphrase",
                "secretAccessKey", "SecretAccessKey", "secret_key", "secret", "clientSecret", "client-secret",
                "sessionToken", "SessionToken", "security_token", "privateKey", "accessKeyId", "AccessKeyID",
                "access_key_id", "a-c-c-e-s-s-k-e-y-i-d", "authToken", "accessToken", "idToken", "auth",
                "authorization", "Authorization", "credential", "credentials", "token", "nextToken",
                "clientToken", "keyId", "KeyName", "tokenValue", "secretId", "passwordPolicy", "x" * 40 + "Key")
SECRET_VALUES = ("https://user:hunter2@example.com/x", "postgres://admin:pw@db:5432", "Bearer abcdef123456",
                 "authorization: Basic dXNlcjpwYXNz", "https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&x=1",
                 "https://h/p?token=secret123&api_key=k", "AKIAIOSFODNN7EXAMPLE", "key ASIAIOSFODNN7EXAMPLE in text",
                 "HIDDEN_DUE_TO_SECURITY_REASONS", "", None, "plain value", '{"password\\": 1}')


def write_secret_corpus(folder: Path) -> Path:
    """Events whose every part copied into a document holds secret names or values."""
    events = []
    for number, (name, value) in enumerate(itertools.product(SECRET_NAMES, SECRET_VALUES)):
        part = {name: value, "nested": {"list": [{name: value}, value]}, "plain": "x"}
        events.append({
            "eventVersion": "1.08", "eventTime": "2025-03-03T07:40:19Z", "eventSource": "iam.amazonaws.com",
            "eventName": ("CreateUser", "GetUser", "UpdateLoginProfile")[number % 3], "awsRegion": "us-east-1",
            "eventID": f"secret-{number}", "readOnly": number % 2 == 0, "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "u",
                             "sessionContext": {"sessionIssuer": {}, "attributes": {"mfaAuthenticated": "false"}}},
            "userAgent": value if isinstance(value, str) else "console.amazonaws.com",
            "errorMessage": value if number % 5 == 0 else None,
            "requestParameters": part if number % 4 else {"userName": "u"},
            "responseElements": part if number % 3 else None,
            "additionalEventData": part if number % 7 == 0 else None,
            "serviceEventDetails": part if number % 6 == 0 else None,
            "someNewTopLevelKey": part if number % 2 else None,
            "sessionCredentialFromConsole": "true",
        })
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secrets.json.gz").write_bytes(gzip.compress(json.dumps({"Records": events}).encode(), mtime=0))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--small", action="store_true", help="digest the small corpora (see above)")
    parser.add_argument("--secrets", type=Path, help="write the secrets corpus here and digest it too")
    parser.add_argument("--profiles", default="standard,minimal,full")
    args = parser.parse_args(argv)
    if args.small:
        print(json.dumps(small_corpora_digests(tuple(args.profiles.split(","))), indent=1))
        return 0
    if args.secrets:
        args.folders.append(write_secret_corpus(args.secrets))
    print(json.dumps(digests(args.folders, args.profiles.split(",")), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
