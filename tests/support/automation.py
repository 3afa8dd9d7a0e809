"""Running generated automation for real: the AWS CLI (test extras) against moto's server on
127.0.0.1, and finding a workflow in hints."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from tests.support.s3 import MotoS3

AWS = Path(sys.executable).with_name("aws")


class MotoCli:
    """moto's server, with credentials of a role in ``account`` (moto's STS AssumeRole), and an
    environment whose `aws` talks to that server with --endpoint-url."""

    def __init__(self, tmp_path: Path, account: str) -> None:
        assert AWS.exists(), "the AWS CLI is part of the test extras (pip install -e '.[test]')"
        self.server = MotoS3()
        self.server.reset()  # moto's backends live in this process, shared by every server it starts
        sts = self.server.client("sts", aws_access_key_id="testing", aws_secret_access_key="testing")
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="ctstack-test")["Credentials"]
        self.keys = {"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
                     "AWS_SESSION_TOKEN": credentials["SessionToken"]}
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        wrapper = bin_dir / "aws"
        wrapper.write_text(f'#!/usr/bin/env bash\nexec {shlex.quote(str(AWS))} --endpoint-url {self.server.url} "$@"\n')
        wrapper.chmod(0o700)
        self.env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, **self.keys}

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, endpoint_url=self.server.url, region_name=region, aws_access_key_id=self.keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.keys["AWS_SECRET_ACCESS_KEY"], aws_session_token=self.keys["AWS_SESSION_TOKEN"])

    def stop(self) -> None:
        self.server.stop()


def run_checked(command: list[str] | str, env: dict, expect: int = 0) -> subprocess.CompletedProcess:
    """``command`` (a bash line when a string) run with ``env``; its exit code must be ``expect``."""
    args = ["bash", "-c", command] if isinstance(command, str) else command
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == expect, (command, done.stdout, done.stderr)
    return done


def workflow_starting_with(hints: Any, first_action: str) -> dict:
    """The workflow of ``hints`` whose first step is ``first_action``."""
    return next(w for w in hints.workflows if w["steps"][0]["action"] == first_action)
