"""A CloudTrail event's requestParameters as the API input that does the same thing.

CloudTrail logs `requestParameters` in the service's wire shape, not the API's: member names in
lower camel case (`dBInstanceIdentifier` for `DBInstanceIdentifier`), EC2 lists wrapped as
``{"items": [...]}`` under `...Set` names (`instancesSet.items[].instanceId` for `InstanceIds`),
S3's `bucketName` for `Bucket` plus `Host` and sub-resource markers (`"policy": ""`), JSON
documents sometimes as text and sometimes as objects. :func:`api_input` walks botocore's input
shape for the operation (the models :mod:`provision.cloudtrail.awscli` indexes) and places each logged key
on a shape member by these rules, in order:

1. the member's name or its wire name (`locationName`/`queryName`), case-insensitively;
2. EC2 `xSet` keys: `x` (or `xs`) against the member's name, its wire name or its list
   member's wire name (`tagSet` -> `Tags`, whose wire name is `Tag`), or, for a list of
   scalars, the one key of its items (`instancesSet.items[].instanceId` -> `InstanceIds`);
3. a small table of what cannot be derived (:data:`RENAMES`: S3 `bucketName` -> `Bucket`);
4. an XML list logged under its member's name is unwrapped (S3 `TagSet: {Tag: [...]}`);
5. an EC2 set of one item that is not a list in the API is hoisted into its parent
   (RunInstances logs `instancesSet.items[0].imageId` for `ImageId`), and so is an EC2
   `<Operation>Request` wrapper; an empty set (`"instancesSet": {}`) carries no input.

Values take the type the shape asks for (booleans and numbers from text, timestamps as ISO-8601
text, JSON documents as text where the API wants a string, one value as a one-item list).
Values CloudTrail redacts (`HIDDEN_DUE_TO_SECURITY_REASONS`, `***`), members botocore marks
`sensitive`, and required members CloudTrail never logs (ChangePassword's `NewPassword`) never
become values: they become a named placeholder (`<Password>`) that commands and scripts read
from an environment variable named for the member (`PASSWORD`, `NEW_PASSWORD`). The input,
placeholders counted as present, is then checked with botocore's own
:class:`~botocore.validate.ParamValidator`.

Pure functions: no I/O besides reading botocore's models (cached for the process). Paths in an
input are :mod:`provision.cloudtrail.inputpaths`'s; the AWS CLI command line for an input is
:mod:`provision.cloudtrail.commandline`'s, the boto3 call :mod:`provision.cloudtrail.boto3call`'s.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from botocore import xform_name

if TYPE_CHECKING:  # botocore.model pulls in botocore's HTTP stack (~30 ms): loaded with the first model
    from botocore.model import OperationModel, Shape

from provision.cloudtrail import awscli
from provision.cloudtrail.inputpaths import join_path

REDACTED = frozenset({"HIDDEN_DUE_TO_SECURITY_REASONS", "***", "HIDDEN", "<sensitiveDataRemoved>"})
# What the wire shape cannot tell: (botocore service or "*", logged key) -> API member.
RENAMES: dict[tuple[str, str], str] = {
    ("s3", "bucketName"): "Bucket",
    ("s3", "bucketPolicy"): "Policy",
    ("s3", "key"): "Key",
    ("ec2", "groupSet"): "SecurityGroupIds",  # RunInstances: items of {groupId}
}
# Logged keys that are transport, not input (S3 logs the Host header it was sent to).
NOISE: dict[str, frozenset[str]] = {"s3": frozenset({"Host", "host", "xmlns"})}
# CloudTrail's own timestamp text in some services: "Mar 6, 2025 2:30:00 PM".
_CLOUDTRAIL_TIME_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p")


@dataclass
class ApiInput:
    """One event's request as the API's input."""

    service: str | None                 # botocore's service name ("ec2"); None: no public API
    operation: str | None               # the API operation ("AuthorizeSecurityGroupIngress")
    parameters: dict[str, Any] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)       # logged keys it could not place
    placeholders: list[dict[str, Any]] = field(default_factory=list)  # [{path, reason, env, parts}]
    valid: bool = False
    message: str | None = None          # botocore's validation report when not valid

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def operation_model(event_source: str | None, event_name: str | None) -> OperationModel | None:
    """botocore's model of the operation an event calls, or None when no public API has it."""
    found = awscli.service_and_operation(event_source, event_name)
    return None if found is None else _operation_model(*found)


@functools.lru_cache(maxsize=2048)
def _operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


@functools.lru_cache(maxsize=None)
def service_model(service: str):
    from botocore.model import ServiceModel

    return ServiceModel(awscli._loader().load_service_model(service, "service-2"), service_name=service)


def api_input(event_source: str | None, event_name: str | None, request_parameters: Any, validate: bool = True) -> ApiInput:
    """The API input for one event (see the module docstring for the rules); ``validate``
    False skips botocore's validation (``valid`` stays False, ``message`` None)."""
    found = awscli.service_and_operation(event_source, event_name)
    if found is None:
        return ApiInput(None, None, message="no public API has this action (console only)")
    service, operation = found
    model = _operation_model(service, operation)
    result = ApiInput(service, operation)
    shape = model.input_shape
    if shape is None:
        if request_parameters:
            result.unmapped = sorted(_keys(request_parameters))
        result.valid = True
        return result
    mapper = _Mapper(service, result)
    params = request_parameters
    try:
        if isinstance(params, str):
            params = _json_or(params)
        if isinstance(params, dict):
            result.parameters = mapper.structure(shape, params, "", ())
        elif params not in (None, "", {}, []):
            result.unmapped.append("(requestParameters is not an object)")
        for member in shape.required_members:
            if member not in result.parameters:  # CloudTrail did not log it: the user gives it
                result.parameters[member] = mapper.placeholder(shape.members[member], member, (member,), member, "required, not logged by CloudTrail")
        if not validate:
            return result
        from botocore.validate import ParamValidator

        report = ParamValidator().validate(result.parameters, shape)
    except (TypeError, ValueError, RecursionError) as err:  # a hostile or odd event fails alone
        result.parameters, result.valid = {}, False
        result.message = f"could not map the request parameters: {err}"
        return result
    result.valid = not report.has_errors()
    result.message = None if result.valid else report.generate_report()
    return result


def api_output(service: str, operation: str, response_elements: Any) -> dict[str, Any]:
    """responseElements as the API's output shape (`groupId` -> `GroupId`), for --query paths."""
    shape = _operation_model(service, operation).output_shape
    if shape is None or not isinstance(response_elements, dict):
        return {}
    try:
        return _Mapper(service, ApiInput(service, operation), redact=False).structure(shape, response_elements, "", ())
    except (TypeError, ValueError, RecursionError):
        return {}


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        yield from value


def _json_or(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text


def _norm(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


class _Mapper:
    def __init__(self, service: str, result: ApiInput, redact: bool = True) -> None:
        self.service = service
        self.result = result
        self.redact = redact
        self.noise = NOISE.get(service, frozenset())

    def structure(self, shape: Shape, logged: dict, path: str, parts: tuple) -> dict[str, Any]:
        out: dict[str, Any] = {}
        index = _member_index(shape)
        for key, value in logged.items():
            if key in self.noise or (self.service == "s3" and not path and value == ""):
                continue  # the Host header, or an S3 sub-resource marker (`"policy": ""`)
            member = RENAMES.get((self.service, key)) if not path else None
            member = member if member in shape.members else index.direct.get(_norm(key))
            if member is None and key.endswith("Set"):
                member = index.sets.get(_norm(key[:-3])) or index.sets.get(_norm(key[:-3]) + "s")
                if member is None:
                    member = _by_item_key(shape, value)
            if member is None and path == "" and key == f"{self.result.operation}Request":
                if isinstance(value, dict):  # EC2 wraps some inputs: {"DeleteFlowLogsRequest": {...}}
                    out.update(self.structure(shape, value, path, parts))
                continue
            if member is None and value in ({}, [], {"items": []}):
                continue  # an empty EC2 set (`"instancesSet": {}`) carries no input
            if member is None:
                hoisted = _single_item(value)
                if hoisted is not None and key.endswith("Set"):
                    out.update(self.structure(shape, hoisted, path, parts))
                    continue
                self.result.unmapped.append(join_path(path, key))
                continue
            converted = self.value(shape.members[member], value, join_path(path, member), (*parts, member), member)
            if converted is not _DROP:
                out[member] = converted
        return out

    def value(self, shape: Shape, value: Any, path: str, parts: tuple, member: str) -> Any:
        if value is None:
            return _DROP
        if self.redact and (shape.metadata.get("sensitive") or (isinstance(value, str) and value in REDACTED)):
            reason = "redacted by CloudTrail" if isinstance(value, str) and value in REDACTED else "secret (sensitive in the API model)"
            return self.placeholder(shape, path, parts, member, reason)
        kind = shape.type_name
        if kind == "structure":
            if isinstance(value, str):
                value = _json_or(value)
            if isinstance(value, dict):
                return self.structure(shape, value, path, parts)
            self.result.unmapped.append(path)
            return _DROP
        if kind == "list":
            inner = shape.member
            wire = _norm(inner.serialization.get("name", ""))
            if isinstance(value, dict) and len(value) == 1 and wire and _norm(next(iter(value))) == wire:
                value = next(iter(value.values()))  # S3 XML: "TagSet": {"Tag": [...]}
            items = _items(value)
            converted: list[Any] = []
            for i, item in enumerate(items):
                if inner.type_name not in ("structure", "list", "map") and isinstance(item, dict):
                    if len(item) != 1:  # not a wrapped scalar: nothing here says what it means
                        self.result.unmapped.append(f"{path}[{i}]")
                        continue
                    item = next(iter(item.values()))  # EC2: items: [{"instanceId": "i-1"}]
                element = self.value(inner, item, f"{path}[{len(converted)}]", (*parts, len(converted)), member)
                if element is not _DROP:
                    converted.append(element)
            return converted if converted or not items else _DROP  # nothing placed: no empty list
        if kind == "map":
            if isinstance(value, str):
                value = _json_or(value)
            if not isinstance(value, dict):
                self.result.unmapped.append(path)
                return _DROP
            out = {}
            for k, v in value.items():
                converted = self.value(shape.value, v, f"{path}.{k}", (*parts, str(k)), member)
                if converted is not _DROP:
                    out[str(k)] = converted
            return out
        return _scalar(kind, value)

    def placeholder(self, shape: Shape, path: str, parts: tuple, member: str, reason: str) -> Any:
        """A value the user gives: recorded with the environment variable named for its member."""
        self.result.placeholders.append({"path": path, "reason": reason, "env": env_name(member), "parts": list(parts)})
        return _placeholder(shape, member)


def env_name(member: str) -> str:
    """The environment variable for a botocore member: `NewPassword` -> `NEW_PASSWORD`."""
    name = re.sub(r"[^A-Z0-9_]", "_", xform_name(member).upper()) or "VALUE"
    return name if not name[0].isdigit() else "V_" + name


_DROP = object()


def _placeholder(shape: Shape, name: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        return 0
    if kind in ("float", "double"):
        return 0.0
    if kind == "boolean":
        return False
    if kind == "list":
        return [f"<{name}>"]
    if kind in ("structure", "map"):
        return {}
    return f"<{name}>"


def _items(value: Any) -> list:
    if isinstance(value, dict) and set(value) <= {"items"}:
        value = value.get("items") or []
    elif isinstance(value, str):
        parsed = _json_or(value)
        value = parsed if isinstance(parsed, list) else [value]
    if isinstance(value, list):
        return value
    return [value]


def _single_item(value: Any) -> dict | None:
    if isinstance(value, dict) and isinstance(value.get("items"), list) and len(value["items"]) == 1 and isinstance(value["items"][0], dict):
        return value["items"][0]
    return None


def _by_item_key(shape: Shape, value: Any) -> str | None:
    """EC2 `instancesSet: {items: [{instanceId: ...}]}`: the list of scalars named like the item key."""
    if not (isinstance(value, dict) and isinstance(value.get("items"), list) and value["items"]):
        return None
    first = value["items"][0]
    if not (isinstance(first, dict) and len(first) == 1):
        return None
    key = _norm(next(iter(first)))
    for name, member in shape.members.items():
        if member.type_name == "list" and member.member.type_name not in ("structure", "list", "map"):
            if key in (_norm(member.serialization.get("name", "")), _norm(name).removesuffix("s"), _norm(name)):
                return name
    return None


def _scalar(kind: str, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":")) if kind in ("string", "blob") else value
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return value
    if kind in ("integer", "long"):
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if kind in ("float", "double"):
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "string" and isinstance(value, (int, float, bool)):
        return json.dumps(value)
    return value


def _timestamp(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # epoch millis or seconds
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            return value
    if isinstance(value, str):
        for fmt in _CLOUDTRAIL_TIME_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                continue
    return value


@dataclass(frozen=True)
class _MemberIndex:
    direct: dict[str, str]  # normalised member name or wire name -> member
    sets: dict[str, str]    # normalised names an EC2 `xSet` stem may take -> member


@functools.lru_cache(maxsize=8192)  # botocore caches its shapes, so the same objects come back
def _member_index(shape: Shape) -> _MemberIndex:
    direct: dict[str, str] = {}
    sets: dict[str, str] = {}
    for name, member in shape.members.items():
        wire = member.serialization.get("name")
        for alias in (name, wire, member.serialization.get("queryName")):
            if alias:
                direct.setdefault(_norm(alias), name)
        for alias in (name, wire):
            if alias:
                sets.setdefault(_norm(alias), name)
        if member.type_name == "list":
            inner = member.member.serialization.get("name")
            if inner and inner != "item":
                sets.setdefault(_norm(inner), name)
    return _MemberIndex(direct, sets)


def member_names(service: str | None, operation: str | None, parts: tuple) -> list[str]:
    """botocore's member names along a path of the operation's input (map keys and list
    indices, which come from the logs or the position, are left out)."""
    if not service or not operation:
        return []
    shape = _operation_model(service, operation).input_shape
    names: list[str] = []
    for part in parts:
        if shape is None:
            break
        if shape.type_name == "structure":
            if part not in shape.members:
                break
            names.append(part)
            shape = shape.members[part]
        elif shape.type_name == "list":
            shape = shape.member
        elif shape.type_name == "map":
            shape = shape.value
        else:
            break
    return names
