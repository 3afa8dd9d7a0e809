"""Elasticsearch write blocks, recognised in an answer and named with what lifts them.

A block (flood-stage disk watermark, ``read_only``, ``read_only_allow_delete``, ``write``)
refuses every write until someone lifts it, so retrying is pointless and "lacks a privilege"
would send people looking in the wrong place: the import stops with one sentence instead.
"""

from __future__ import annotations

import re
from typing import Any

from elasticsearch import ApiError

BLOCK_ERROR = "cluster_block_exception"
_BLOCK = re.compile(r"(?:index \[(?P<index>[^\]]+)\] )?blocked by: \[(?P<status>[A-Z_]+)/(?P<id>\d+)/(?P<what>[^\]]+?)(?:;[^\]]*)?\]")


def _settings_fix(setting: str, index: str | None) -> str:
    if index is None:
        return f'PUT _cluster/settings {{"persistent": {{"{setting}": null}}}}'
    return f'PUT {index}/_settings {{"{setting}": null}}'


def block_sentence(error: Any) -> str | None:
    """One sentence naming the block in ``error`` (an ApiError, a bulk item's error object,
    or its reason text) and how to lift it; None when it is no block."""
    if isinstance(error, ApiError):
        body = error.body if isinstance(error.body, dict) else {}
        error = body.get("error") or str(error)
    if isinstance(error, dict):
        if error.get("type") != BLOCK_ERROR:
            return None
        error = str(error.get("reason") or "")
    if not isinstance(error, str) or BLOCK_ERROR not in error and "blocked by:" not in error:
        return None
    found = _BLOCK.search(error)
    if found is None:
        return f"Elasticsearch refuses writes ({error.strip()}); lift the block and run the import again."
    index, block, what = found["index"], int(found["id"]), found["what"].strip()
    where = f"index {index}" if index else "the cluster"
    if block == 12:
        return (f"Elasticsearch refuses writes to {where}: a data node's disk passed the flood-stage watermark, so the "
                f"index has a read-only-allow-delete block. Free disk space (Elasticsearch lifts the block once usage is "
                f"below the high watermark) or lift it: {_settings_fix('index.blocks.read_only_allow_delete', index)}; "
                "then run the import again.")
    settings = {5: ("read-only", "index.blocks.read_only"), 8: ("write", "index.blocks.write"),
                6: ("read-only", "cluster.blocks.read_only"), 13: ("read-only-allow-delete", "cluster.blocks.read_only_allow_delete")}
    if block in settings:
        name, setting = settings[block]
        return (f"Elasticsearch refuses writes to {where}: it has a {name} block ({setting}). Lift it: "
                f"{_settings_fix(setting, index if setting.startswith('index.') else None)}; then run the import again.")
    return f"Elasticsearch refuses writes to {where} (blocked by: {what}); lift the block and run the import again."
