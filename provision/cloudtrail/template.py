"""The composable index template for ctstack's monthly CloudTrail indices.

Every field :mod:`provision.cloudtrail.documents` writes is mapped explicitly; ``dynamic: false``
keeps anything else in ``_source`` without mapping it, so no input can explode the mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from provision.cloudtrail import fields as F
from provision.core import settings
from provision.core.errors import CtstackError

if TYPE_CHECKING:  # the converting processes import this module, never the client
    from elasticsearch import Elasticsearch

# Three tiers, so each document costs Elasticsearch only what someone reads of it:
# - aggregated or sorted by the product (dashboard, hints from ES, the filters): indexed,
#   with doc_values;
# - searched by people in Discover (who, from where, on what, which error): indexed only;
# - read back from _source only (reflag, automation samples) or by no one: neither.
KEYWORD = {"type": "keyword", "ignore_above": 1024}
KEYWORD_SEARCHED = {"type": "keyword", "ignore_above": 1024, "doc_values": False}
BOOLEAN = {"type": "boolean"}
BOOLEAN_SEARCHED = {"type": "boolean", "doc_values": False}
DATE = {"type": "date"}
# In _source only, as sent: a keyword, a boolean or a date no query reads.
KEPT = {"type": "keyword", "index": False, "doc_values": False}
BOOLEAN_KEPT = {"type": "boolean", "index": False, "doc_values": False}
DATE_KEPT = {"type": "date", "index": False, "doc_values": False, "ignore_malformed": True}
# Request/response blobs: one field each, whatever keys they hold; searchable by key
# (request_parameters.bucketName: x), not aggregatable (doc_values are most of their cost).
FLATTENED = {"type": "flattened", "ignore_above": 1024, "depth_limit": 50, "doc_values": False}

NOT_INDEXED_OBJECT = {"type": "object", "enabled": False}

FIELD_TYPES: dict[str, dict] = {
    # aggregated, sorted or filtered on by ctstack itself
    F.TIMESTAMP: DATE,
    F.EVENT_ACTION: KEYWORD,
    F.EVENT_PROVIDER: KEYWORD,
    F.EVENT_OUTCOME: KEYWORD,
    F.CLOUD_REGION: KEYWORD,
    F.CLOUD_ACCOUNT_ID: KEYWORD,
    F.USER_NAME: KEYWORD,
    F.CT_ERROR_CODE: KEYWORD,
    F.CONSOLE: BOOLEAN,
    F.READ_ONLY: BOOLEAN,
    F.AUTOMATION_CANDIDATE: BOOLEAN,
    F.RESOURCES: KEYWORD_SEARCHED,       # "everything that happened to sg-0abc": one search
    F.RESOURCES_CHANGED: KEYWORD,        # drift from Elasticsearch reads these four
    F.RESOURCES_CREATED: KEYWORD,
    F.ACTOR: KEYWORD,
    F.ACTOR_STACK: KEYWORD,
    F.DRIFT: BOOLEAN,                    # the dashboard's drift panels
    # one value in every document: doc_values cost nothing, and rules filter on them
    F.EVENT_DATASET: KEYWORD,
    F.EVENT_KIND: KEYWORD,
    F.CLOUD_PROVIDER: KEYWORD,
    # searched in Discover
    # Unique per event, and the same value as _id for almost every event: searchable, but no
    # doc_values (37 bytes per event, the most of any field), so nothing sorts or aggregates on it.
    F.EVENT_ID: KEYWORD_SEARCHED,
    F.SOURCE_ADDRESS: KEYWORD_SEARCHED,
    F.SOURCE_IP: {"type": "ip", "doc_values": False},
    F.USER_AGENT: KEYWORD_SEARCHED,
    F.USER_ID: KEYWORD_SEARCHED,
    F.USER_ROLES: KEYWORD_SEARCHED,
    F.USER_ACCESS_KEY_ID: KEYWORD_SEARCHED,
    F.CT_EVENT_TYPE: KEYWORD_SEARCHED,
    F.CT_READ_ONLY: BOOLEAN_SEARCHED,
    F.CT_ERROR_MESSAGE: {"type": "text"},
    F.CT_CONSOLE_LOGIN: KEYWORD_SEARCHED,
    F.CT_UI_TYPE: KEYWORD_SEARCHED,
    F.CT_UI_ARN: KEYWORD_SEARCHED,
    F.CT_UI_SESSION_ISSUER_ARN: KEYWORD_SEARCHED,
    F.CT_RESOURCES_ARN: KEYWORD_SEARCHED,
    F.CT_RESOURCES_TYPE: KEYWORD_SEARCHED,
    F.CT_REQUEST_PARAMETERS: FLATTENED,
    F.CT_RESPONSE_ELEMENTS: FLATTENED,
    F.CT_SERVICE_EVENT_DETAILS: FLATTENED,
    # in _source only
    F.CT_REQUEST_ID: KEPT,             # unique per event: an index of it costs as much as its _source
    F.CT_SHARED_EVENT_ID: KEPT,
    F.CT_EVENT_CATEGORY: KEPT,
    F.CT_EVENT_VERSION: KEPT,
    F.CT_RECIPIENT_ACCOUNT_ID: KEPT,   # cloud.account.id holds it, indexed
    F.CT_MANAGEMENT_EVENT: BOOLEAN_KEPT,
    F.CT_API_VERSION: KEPT,
    F.CT_VPC_ENDPOINT_ID: KEPT,
    F.CT_SESSION_CREDENTIAL_FROM_CONSOLE: BOOLEAN_KEPT,
    F.CT_UI_PRINCIPAL_ID: KEPT,        # user.id holds it, indexed
    F.CT_UI_INVOKED_BY: KEPT,
    F.CT_UI_SESSION_ISSUER_TYPE: KEPT,
    F.CT_UI_MFA_AUTHENTICATED: BOOLEAN_KEPT,
    F.CT_UI_CREATION_DATE: DATE_KEPT,
    F.CT_RESOURCES_ACCOUNT_ID: KEPT,
    F.CT_TLS_VERSION: KEPT,
    F.CT_TLS_CLIENT_HOST: KEPT,
    F.CT_ADDITIONAL_EVENTDATA: NOT_INDEXED_OBJECT,
    F.CT_UNMAPPED: NOT_INDEXED_OBJECT,
    F.CT_ORIGINAL: KEPT,
    F.SOURCE_FILE: KEPT,               # provenance, read by people from _source
}


def _nest(flat: dict[str, dict]) -> dict:
    """{"a.b": T} -> {"a": {"properties": {"b": T}}} (mappings are written nested)."""
    root: dict = {}
    for dotted, mapping in sorted(flat.items()):
        node = root
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = dict(mapping)
    return root


_INDEX_NAME_FORBIDDEN = set('\\/*?"<>| ,#:')


def check_index_prefix(prefix: str) -> str:
    """``prefix`` if Elasticsearch accepts ``<prefix>-YYYY.MM`` as an index name, else one
    sentence (CtstackError) saying why, before anything is sent: lower case only, none of
    ``\\ / * ? " < > | , # :`` or spaces, not starting with ``-``, ``_`` or ``+``, at most
    200 bytes (the month suffix makes the rest of Elasticsearch's 255)."""
    problem = None
    if not prefix:
        problem = "is empty"
    elif prefix != prefix.lower():
        problem = f"has upper-case letters (Elasticsearch index names are lower case: {prefix.lower()!r})"
    elif forbidden := sorted(set(prefix) & _INDEX_NAME_FORBIDDEN):
        problem = f"holds {' '.join(repr(c) for c in forbidden)}, which index names may not"
    elif prefix[0] in "-_+":
        problem = f"starts with {prefix[0]!r}, which index names may not"
    elif prefix in (".", ".."):
        problem = "is not a name"
    elif len(prefix.encode()) > 200:
        problem = "is longer than 200 bytes"
    if problem:
        raise CtstackError(f"--index-prefix {prefix!r} {problem}.")
    return prefix


def template_name(prefix: str = settings.INDEX_PREFIX) -> str:
    return settings.INDEX_TEMPLATE_NAME if prefix == settings.INDEX_PREFIX else prefix


def index_template(prefix: str = settings.INDEX_PREFIX) -> dict:
    """The composable template body for ``<prefix>-*``."""
    return {
        "index_patterns": [f"{prefix}-*"],
        # A longer (more specific) prefix wins where patterns overlap; equal ones conflict.
        "priority": 200 + len(prefix),
        "_meta": {"managed_by": "ctstack", "description": "AWS CloudTrail events, one index per month"},
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    # 0 replicas on one node (green), 1 where a cluster has room for it.
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": "5s",
                    # zstd for stored fields (_source): most of what an event costs at rest.
                    "codec": "best_compression",
                    "mapping": {"total_fields": {"limit": 1000}},
                }
            },
            "mappings": {
                "dynamic": False,
                "date_detection": False,
                "properties": _nest(FIELD_TYPES),
            },
        },
    }


def install_template(es: Elasticsearch, prefix: str = settings.INDEX_PREFIX) -> str:
    """Create or update the index template; returns its name. Existing indices keep their
    mapping; new monthly indices get this one."""
    name = template_name(check_index_prefix(prefix))
    es.indices.put_index_template(name=name, **index_template(prefix))
    return name
