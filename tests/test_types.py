"""`provision` ships py.typed, so what it declares must hold: mypy, configured in
pyproject.toml, is clean on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # mypy over the whole package
def test_mypy_finds_no_type_error_in_provision():
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
