"""One source of truth for names and versions that several modules share.

Field names live in :mod:`provision.cloudtrail.fields`; everything else that more than one
module (or the tests, the bench, compose.yaml's renderer) needs to agree on is here.
"""

from __future__ import annotations

import os
from pathlib import Path

# The Elastic Stack version the local stack runs (compose.yaml reads it via the env file).
STACK_VERSION = "9.3.2"

# The images `ctstack up` runs unless --es-image/--kibana-image (or these env vars) name others.
OFFICIAL_ES_IMAGE = f"docker.elastic.co/elasticsearch/elasticsearch:{STACK_VERSION}"
OFFICIAL_KIBANA_IMAGE = f"docker.elastic.co/kibana/kibana:{STACK_VERSION}"
ES_IMAGE_ENV = "CTSTACK_ES_IMAGE"
KIBANA_IMAGE_ENV = "CTSTACK_KIBANA_IMAGE"

# Elasticsearch versions the test node downloads (Maven Central integ-test-zip).
# 9.x needs Java 21+; when only older JDKs exist the node falls back to the 8.x line.
TEST_ES_VERSION = "9.3.2"
TEST_ES_FALLBACK_VERSION = "8.19.21"

# Index names.
INDEX_PREFIX = "ctstack-cloudtrail"          # events go to f"{INDEX_PREFIX}-YYYY.MM"
INDEX_TEMPLATE_NAME = "ctstack-cloudtrail"
STATE_INDEX = "ctstack-state"                 # which S3 objects were imported (key + ETag)

# S3 import: parallel downloads by default (each holds at most two objects in memory).
S3_WORKERS = 8

# Bulk requests an import keeps in flight at once (--bulk-requests). Chosen by measurement
# (docs/performance.md): on a 2-core machine 2 imported 28% faster than 1, and 4 no faster than 2.
BULK_REQUESTS = 2
# Documents per bulk request, at most (--bulk-size; and at most 8 MB): measured, 5,000 cost
# Elasticsearch about a fifth less CPU per event than 1,000 (docs/performance.md).
BULK_SIZE = 5000

# Local stack defaults.
LOCAL_ES_URL = "http://127.0.0.1:9200"
LOCAL_KIBANA_URL = "http://127.0.0.1:5601"
LOCAL_ES_USER = "elastic"

# Kibana saved objects ctstack installs (stable ids, so re-import overwrites).
DATA_VIEW_ID = "ctstack-cloudtrail"
DASHBOARD_ID = "ctstack-console-activity"
DASHBOARD_TITLE = "CloudTrail console activity"


def ctstack_home() -> Path:
    """Where ctstack keeps the local stack's files (credentials, compose env)."""
    return Path(os.environ.get("CTSTACK_HOME") or Path.home() / ".ctstack")


def credentials_file() -> Path:
    """The 0600 env file `ctstack up` writes; KEY=VALUE lines (ELASTIC_PASSWORD, ...)."""
    return ctstack_home() / "credentials.env"


# The local stack (`ctstack up`): Compose project name (env CTSTACK_COMPOSE_PROJECT: a second
# stack beside the first, as the container tests run) and the defaults `up` starts it with.
COMPOSE_PROJECT = "ctstack"
DEFAULT_ES_HEAP = "1g"          # suits an 8 GB laptop: ES ~1.5 GB resident, Kibana ~1 GB
DEFAULT_KIBANA_LOCALE = "en"    # Kibana also ships ja-JP, zh-CN, fr-FR (and de-DE in 9.x)


def compose_project() -> str:
    return os.environ.get("CTSTACK_COMPOSE_PROJECT") or COMPOSE_PROJECT


def stack_env_file() -> Path:
    """The non-secret env file `ctstack up` rewrites each run: version, ports, heap, locale."""
    return ctstack_home() / "stack.env"
