"""The composable index template for ctstack's monthly CloudTrail indices.

Every field :mod:`provision.documents` writes is mapped explicitly; ``dynamic: false``
keeps anything else in ``_source`` without mapping it, so no input can explode the mapping.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from provision import fields as F
from provision import settings

KEYWORD = {"type": "keyword", "ignore_above": 1024}
BOOLEAN = {"type": "boolean"}
DATE = {"type": "date"}
# A date field other than @timestamp keeps a value it cannot read as sent, in _source only.
DATE_KEPT_AS_TEXT = {"type": "date", "ignore_malformed": True}
# Request/response blobs: one field each, whatever keys they hold.
FLATTENED = {"type": "flattened", "ignore_above": 1024, "depth_limit": 50}

FIELD_TYPES: dict[str, dict] = {
    F.TIMESTAMP: DATE,
    F.EVENT_ID: KEYWORD,
    F.EVENT_ACTION: KEYWORD,
    F.EVENT_PROVIDER: KEYWORD,
    F.EVENT_DATASET: KEYWORD,
    F.EVENT_OUTCOME: KEYWORD,
    F.EVENT_KIND: KEYWORD,
    F.CLOUD_PROVIDER: KEYWORD,
    F.CLOUD_REGION: KEYWORD,
    F.CLOUD_ACCOUNT_ID: KEYWORD,
    F.SOURCE_ADDRESS: KEYWORD,
    F.SOURCE_IP: {"type": "ip"},
    F.USER_AGENT: {"type": "keyword", "ignore_above": 1024, "fields": {"text": {"type": "text"}}},
    F.USER_ID: KEYWORD,
    F.USER_NAME: KEYWORD,
    F.USER_ROLES: KEYWORD,
    F.USER_ACCESS_KEY_ID: KEYWORD,
    F.CT_EVENT_TYPE: KEYWORD,
    F.CT_EVENT_CATEGORY: KEYWORD,
    F.CT_EVENT_VERSION: KEYWORD,
    F.CT_READ_ONLY: BOOLEAN,
    F.CT_ERROR_CODE: KEYWORD,
    F.CT_ERROR_MESSAGE: {"type": "text", "fields": {"keyword": KEYWORD}},
    F.CT_RECIPIENT_ACCOUNT_ID: KEYWORD,
    F.CT_REQUEST_ID: KEYWORD,
    F.CT_MANAGEMENT_EVENT: BOOLEAN,
    F.CT_API_VERSION: KEYWORD,
    F.CT_VPC_ENDPOINT_ID: KEYWORD,
    F.CT_SHARED_EVENT_ID: KEYWORD,
    F.CT_SESSION_CREDENTIAL_FROM_CONSOLE: BOOLEAN,
    F.CT_CONSOLE_LOGIN: KEYWORD,
    F.CT_UI_TYPE: KEYWORD,
    F.CT_UI_ARN: KEYWORD,
    F.CT_UI_PRINCIPAL_ID: KEYWORD,
    F.CT_UI_INVOKED_BY: KEYWORD,
    F.CT_UI_SESSION_ISSUER_ARN: KEYWORD,
    F.CT_UI_SESSION_ISSUER_TYPE: KEYWORD,
    F.CT_UI_MFA_AUTHENTICATED: BOOLEAN,
    F.CT_UI_CREATION_DATE: DATE_KEPT_AS_TEXT,
    F.CT_RESOURCES_ARN: KEYWORD,
    F.CT_RESOURCES_TYPE: KEYWORD,
    F.CT_RESOURCES_ACCOUNT_ID: KEYWORD,
    F.CT_TLS_VERSION: KEYWORD,
    F.CT_TLS_CLIENT_HOST: KEYWORD,
    F.CT_REQUEST_PARAMETERS: FLATTENED,
    F.CT_ADDITIONAL_EVENTDATA: FLATTENED,
    F.CT_RESPONSE_ELEMENTS: FLATTENED,
    F.CT_SERVICE_EVENT_DETAILS: FLATTENED,
    F.CT_UNMAPPED: {"type": "object", "enabled": False},
    F.CT_ORIGINAL: {"type": "keyword", "index": False, "doc_values": False},
    F.CONSOLE: BOOLEAN,
    F.READ_ONLY: BOOLEAN,
    F.AUTOMATION_CANDIDATE: BOOLEAN,
    F.SOURCE_FILE: KEYWORD,
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
    name = template_name(prefix)
    es.indices.put_index_template(name=name, **index_template(prefix))
    return name
