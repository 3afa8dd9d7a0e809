"""The public API: what the docs' Python examples import comes from `provision` itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

import provision


def test_every_public_name_resolves_to_the_object_its_module_defines():
    import importlib

    for name, module in provision._EXPORTS.items():
        assert getattr(provision, name) is getattr(importlib.import_module(module), name), name


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no_such_thing"):
        provision.no_such_thing  # noqa: B018


def test_importing_the_package_alone_loads_no_client_and_no_layer():
    # Worker processes import `provision` (through the console script's entry module): it must
    # stay as cheap as it was before the public API existed.
    code = ("import sys, provision, provision.entry; "
            "print(sorted(m for m in sys.modules if m.startswith(('provision.', 'elasticsearch', 'typer', 'boto3'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "['provision.entry']"


@pytest.mark.slow  # a Python subprocess running the documented example
def test_the_documented_example_runs_from_the_package_names(tmp_path):
    from provision import Filters, hints_from_sources, write_demo

    write_demo(tmp_path / "logs")
    hints = hints_from_sources([str(tmp_path / "logs")], Filters())
    assert hints.candidates and hints.events_read > 0
