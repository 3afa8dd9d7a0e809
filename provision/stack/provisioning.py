"""`ctstack provision`: the index template in Elasticsearch, the data view and dashboard in
Kibana. ``ctstack up`` calls :func:`provision_all` once the stack is running."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from provision.stack import dashboard
from provision.core import settings
from provision.core.connection import EsConfig, connected, server_version
from provision.core.urls import parse_url
from provision.stack.kibana import KibanaConfig, dashboard_url, import_saved_objects, space_path, wait_until_available
from provision.cloudtrail.template import install_template


@dataclass
class ProvisionResult:
    es_version: str
    index_prefix: str
    kibana_version: str | None = None
    space: str | None = None
    imported: list[dict] = field(default_factory=list)
    dashboard_url: str | None = None


def provision_all(
    es_cfg: EsConfig,
    kibana_cfg: KibanaConfig | None,
    space: str | None = None,
    *,
    index_prefix: str = settings.INDEX_PREFIX,
    kibana_timeout: float = 180.0,
) -> ProvisionResult:
    """Install the index template, then (unless ``kibana_cfg`` is None) wait for Kibana and
    import the data view and dashboard, overwriting earlier copies. Raises CtstackError."""
    space_path(space)  # a bad space id fails before anything is changed
    with connected(es_cfg) as es:
        es_version = server_version(es)
        install_template(es, index_prefix)
    result = ProvisionResult(es_version=es_version, index_prefix=index_prefix, space=space)
    if kibana_cfg is None:
        return result
    result.kibana_version = wait_until_available(kibana_cfg, timeout=kibana_timeout)
    imported = import_saved_objects(kibana_cfg, dashboard.ndjson(index_prefix), space=space, overwrite=True)
    result.imported = imported.imported
    result.dashboard_url = dashboard_url(kibana_cfg, space, imported.destination_id("dashboard", settings.DASHBOARD_ID))
    return result


def is_local_stack(es_url: str) -> bool:
    """Whether ``es_url`` is the local stack's Elasticsearch (whose Kibana is the local one)."""
    local = parse_url(settings.LOCAL_ES_URL)
    other = parse_url(es_url)
    hosts = {"127.0.0.1", "localhost", "::1"}
    local_parts, other_parts = urlsplit(local.url), urlsplit(other.url)
    return (other_parts.scheme == local_parts.scheme and other_parts.port == local_parts.port
            and (other_parts.hostname or "") in hosts and (local_parts.hostname or "") in hosts)
