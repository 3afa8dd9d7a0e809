"""The AWS CLI command for a CloudTrail event: (eventSource, eventName) -> `aws <service> <operation>`.

Derived from botocore's own service models (installed with boto3), so it knows every service
and operation that the installed SDK knows, and nothing is hand-maintained except the three
commands the AWS CLI renames (from awscli's `handlers.py` customisations).

An eventSource such as `monitoring.amazonaws.com` names the service's endpoint prefix (or, for
services that share a signing name, e.g. `bedrock-runtime` signs as `bedrock`), not its CLI name:
`PutMetricAlarm` from `monitoring.amazonaws.com` is `aws cloudwatch put-metric-alarm`. When no
service has the operation (console-only actions such as ConsoleLogin, SwitchRole,
GetSigninToken) the answer is None: there is no public API to automate it with.

Speed: loading all ~450 models takes seconds, so the index of which services answer to which
prefix is built from the `metadata` block at the head of each model file (about 0.2 s for all),
and a service's operations are loaded only when an event of that service is looked up. Both are
cached for the life of the process.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from botocore import xform_name

if TYPE_CHECKING:  # botocore.loaders pulls in botocore's HTTP stack (~30 ms): loaded with the first model
    from botocore.loaders import Loader

# The AWS CLI's renamed top-level commands (awscli/handlers.py: the s3 plugin moves the model
# commands to `s3api`; codedeploy and configservice customisations rename theirs).
CLI_RENAMES = {"s3": "s3api", "codedeploy": "deploy", "config": "configservice"}

# How botocore's JSONFileLoader looks for a model file, in its order.
_MODEL_EXTENSIONS = (".json", ".json.gz")
_HEAD_BYTES = 8192
_METADATA_FIELD = re.compile(rb'"(apiVersion|endpointPrefix|signingName)"\s*:\s*"([^"]*)"')
# Versioned eventNames: Lambda logs `UpdateFunctionCode20150331v2`, CloudFront `..._2020_05_31`.
_VERSION_SUFFIX = re.compile(r"(\d{8}(v\d+)?|\d{4}_\d{2}_\d{2})$")


@dataclass(frozen=True)
class ServiceInfo:
    name: str            # botocore's service name, e.g. "cloudwatch"
    endpoint_prefix: str  # e.g. "monitoring"
    signing_name: str     # e.g. "monitoring"; differs for a few services ("bedrock" for bedrock-runtime)
    api_version: str      # e.g. "2010-08-01"


def cli_command(event_source: str | None, event_name: str | None) -> str | None:
    """`aws <service> <operation>` for a CloudTrail event, or None when no public API has it."""
    if not event_source or not event_name:
        return None
    return _cli_command(event_source.strip().lower(), event_name.strip())


@functools.lru_cache(maxsize=4096)
def _cli_command(event_source: str, event_name: str) -> str | None:
    found = _service_and_operation(event_source, event_name)
    if found is None:
        return None
    return aws_command(*found)


def aws_command(service: str, operation: str) -> str:
    """`aws <service> <operation>` for a botocore service and API operation: the one place the
    AWS CLI's words are made (CLI_RENAMES, operation in kebab case), for hints and scripts alike."""
    return f"aws {CLI_RENAMES.get(service, service)} {xform_name(operation, '-')}"


def service_and_operation(event_source: str | None, event_name: str | None) -> tuple[str, str] | None:
    """(botocore service name, API operation name) for a CloudTrail event, or None."""
    if not event_source or not event_name:
        return None
    return _service_and_operation(event_source.strip().lower(), event_name.strip())


@functools.lru_cache(maxsize=4096)
def _service_and_operation(event_source: str, event_name: str) -> tuple[str, str] | None:
    prefix = event_source.removesuffix(".amazonaws.com")
    for name in _operation_name_variants(event_name):
        service = _service_with_operation(prefix, name)
        if service is not None:
            return service, name
    return None


def _operation_name_variants(event_name: str) -> Iterator[str]:
    yield event_name
    stripped = _VERSION_SUFFIX.sub("", event_name)
    if stripped and stripped != event_name:
        yield stripped


def _service_with_operation(prefix: str, operation: str) -> str | None:
    """The service answering to `prefix` that has `operation`, best match first.

    Tiers, in order: endpoint prefix, signing name, service name. Within a tier, several services
    may share a prefix (elb/elbv2, es/opensearch, rds/docdb/neptune, ses/sesv2): the one named
    like the prefix wins, then the newest API version (elbv2 over the classic elb).
    """
    index = _prefix_index()
    for tier in (index.by_endpoint_prefix, index.by_signing_name, index.by_name):
        services = [s for s in tier.get(prefix, ()) if operation in _operations(s.name)]
        if services:
            services.sort(key=lambda s: (s.name == prefix, s.api_version), reverse=True)
            return services[0].name
    return None


@dataclass(frozen=True)
class _PrefixIndex:
    by_endpoint_prefix: dict[str, list[ServiceInfo]]
    by_signing_name: dict[str, list[ServiceInfo]]
    by_name: dict[str, list[ServiceInfo]]


def _load_model_file(file_path: str) -> Any:
    """A botocore model file as plain dicts without its documentation text. botocore's own
    loader keeps every `documentation` string in OrderedDicts: EC2's model alone holds 14.6 MB
    that way, 6.9 MB like this, and loads in 0.24 s instead of 0.57. Nothing here reads the
    documentation; every process that converts files loads the models of the services its
    events name."""
    for ext in _MODEL_EXTENSIONS:
        if os.path.isfile(file_path + ext):
            with (gzip.open if ext.endswith(".gz") else open)(file_path + ext, "rb") as fp:
                return json.loads(fp.read(), object_pairs_hook=_without_documentation)
    return None


def _without_documentation(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Only text: a structure member may be named "documentation" (its value is a dict).
    return {key: value for key, value in pairs if key != "documentation" or not isinstance(value, str)}


@functools.lru_cache(maxsize=1)
def _loader() -> Loader:
    # As a botocore session builds its loader (AWS_DATA_PATH adds folders to search first),
    # without importing the session and the client machinery it brings (4 MB per process).
    from botocore.loaders import JSONFileLoader, Loader

    class ModelFileLoader(JSONFileLoader):  # botocore's file lookup, our reading (_load_model_file)
        def load_file(self, file_path: str) -> Any:
            return _load_model_file(file_path)

    extra = [os.path.expanduser(os.path.expandvars(path))
             for path in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if path]
    return Loader(extra_search_paths=extra, file_loader=ModelFileLoader())


@functools.lru_cache(maxsize=1)
def _prefix_index() -> _PrefixIndex:
    by_endpoint: dict[str, list[ServiceInfo]] = {}
    by_signing: dict[str, list[ServiceInfo]] = {}
    by_name: dict[str, list[ServiceInfo]] = {}
    for info in services():
        by_endpoint.setdefault(info.endpoint_prefix, []).append(info)
        by_signing.setdefault(info.signing_name, []).append(info)
        by_name.setdefault(info.name, []).append(info)
    return _PrefixIndex(by_endpoint, by_signing, by_name)


def services() -> list[ServiceInfo]:
    """Every service botocore knows, with the metadata CloudTrail's eventSource refers to."""
    loader = _loader()
    infos = []
    for name in loader.list_available_services("service-2"):
        metadata = _model_head_metadata(name) or _loader().load_service_model(name, "service-2")["metadata"]
        endpoint_prefix = metadata.get("endpointPrefix") or name
        infos.append(
            ServiceInfo(
                name=name,
                endpoint_prefix=endpoint_prefix,
                signing_name=metadata.get("signingName") or endpoint_prefix,
                api_version=metadata.get("apiVersion") or "",
            )
        )
    return infos


def _model_head_metadata(service: str) -> dict[str, str] | None:
    """The metadata strings from the head of the service's newest model file, or None if absent."""
    loader = _loader()
    version = loader.determine_latest_version(service, "service-2")
    for search_path in loader.search_paths:
        base = os.path.join(search_path, service, version, "service-2")
        for ext in _MODEL_EXTENSIONS:
            path = base + ext
            if os.path.isfile(path):
                return _metadata_from_head(_read_head(path))
    return None


def _read_head(path: str) -> bytes:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fp:
        return fp.read(_HEAD_BYTES)


def _metadata_from_head(head: bytes) -> dict[str, str] | None:
    # Only the `metadata` object, which precedes `operations` in every model botocore ships.
    start = head.find(b'"metadata"')
    end = head.find(b'"operations"', start)
    if start < 0 or end < 0:
        return None
    fields = {k.decode(): v.decode() for k, v in _METADATA_FIELD.findall(head[start:end])}
    return fields if "endpointPrefix" in fields else None


@functools.lru_cache(maxsize=None)
def _operations(service: str) -> frozenset[str]:
    return frozenset(_loader().load_service_model(service, "service-2")["operations"])
