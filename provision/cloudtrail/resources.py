"""The resources a CloudTrail event touches, as normalised identifiers.

:func:`touched` walks the event's request (``requestParameters`` as the API's input) and its
response (``responseElements`` as the API's output) on botocore's shapes, the way
:mod:`provision.cloudtrail.clickcode` does, and adds CloudTrail's own ``resources[].ARN``. Only structure
members are read: map keys and values (tags, policies as JSON text) never become identifiers.

Normalisation (so a bare id and an ARN of the same resource match):

- EC2 ids (``sg-0abc...``, ``i-...``, ``vpc-...``) stay bare: they are unique per account and
  region by construction. An EC2 ARN ``arn:aws:ec2:R:A:security-group/sg-0abc`` becomes
  ``sg-0abc``. (An id from another account or region is not told apart.)
- Everything else becomes an ARN built from the event's partition, region and account:
  S3 ``Bucket`` -> ``arn:aws:s3:::NAME``; IAM ``RoleName``/``UserName``/``GroupName`` ->
  ``arn:aws:iam::A:role/NAME`` (IAM ARNs lose their path: names are unique in an account
  whatever the path); Lambda ``FunctionName`` (a name, partial or full ARN) ->
  ``arn:aws:lambda:R:A:function:NAME`` (version and alias qualifiers dropped); RDS
  ``DBInstanceIdentifier``/``DBClusterIdentifier`` -> ``arn:aws:rds:R:A:db:NAME`` /
  ``cluster:NAME``; KMS ``KeyId`` (a key id or key ARN) -> ``arn:aws:kms:R:A:key/ID``.
- Where the service makes it ambiguous, nothing is matched: a KMS alias
  (``alias/x``) is kept as ``arn:aws:kms:R:A:alias/x``, never matched with the key it points
  to; an S3 object is not a resource here (its bucket is); other ARNs are kept as logged.

Which of them the event *changes* (its targets, for drift): the ones it creates (in the
response and not in the request), every one of a tagging call, the service's identifying
member (:data:`PRIMARY_MEMBERS`), and those whose type word (``SecurityGroup`` for ``sg-``)
is in the action's name (``AuthorizeSecurityGroupIngress``). A VPC named by
CreateSecurityGroup or an image named by RunInstances is touched, not changed.

Pure functions: no I/O besides botocore's models (cached for the process).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from provision.cloudtrail import awscli, clickcode

if TYPE_CHECKING:
    from botocore.model import Shape

# EC2 id prefixes and the word the API uses for the type (in action names).
EC2_TYPES: dict[str, str] = {
    "sg": "SecurityGroup", "sgr": "SecurityGroupRule", "i": "Instance", "vpc": "Vpc", "subnet": "Subnet",
    "vol": "Volume", "ami": "Image", "snap": "Snapshot", "eni": "NetworkInterface", "igw": "InternetGateway",
    "rtb": "RouteTable", "acl": "NetworkAcl", "eipalloc": "Address", "nat": "NatGateway", "lt": "LaunchTemplate",
    "key": "KeyPair", "vpce": "VpcEndpoint", "pcx": "VpcPeeringConnection", "tgw": "TransitGateway",
    "dopt": "DhcpOptions", "fl": "FlowLogs",
}
_EC2_ID = re.compile(r"^([a-z]+)-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_ARN = re.compile(r"^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:(.+)$")
# (botocore service, member) -> (ARN template, type word). {p} partition, {r} region, {a} account, {v} value.
NAMED_MEMBERS: dict[tuple[str, str], tuple[str, str]] = {
    ("s3", "Bucket"): ("arn:{p}:s3:::{v}", "Bucket"),
    ("iam", "RoleName"): ("arn:{p}:iam::{a}:role/{v}", "Role"),
    ("iam", "UserName"): ("arn:{p}:iam::{a}:user/{v}", "User"),
    ("iam", "GroupName"): ("arn:{p}:iam::{a}:group/{v}", "Group"),
    ("iam", "InstanceProfileName"): ("arn:{p}:iam::{a}:instance-profile/{v}", "InstanceProfile"),
    ("lambda", "FunctionName"): ("arn:{p}:lambda:{r}:{a}:function:{v}", "Function"),
    ("rds", "DBInstanceIdentifier"): ("arn:{p}:rds:{r}:{a}:db:{v}", "DBInstance"),
    ("rds", "DBClusterIdentifier"): ("arn:{p}:rds:{r}:{a}:cluster:{v}", "DBCluster"),
    ("kms", "KeyId"): ("arn:{p}:kms:{r}:{a}:key/{v}", "Key"),
    ("kms", "TargetKeyId"): ("arn:{p}:kms:{r}:{a}:key/{v}", "Key"),
    ("kms", "AliasName"): ("arn:{p}:kms:{r}:{a}:{v}", "Alias"),
}
# The member every call of the service is about (PutPublicAccessBlock changes its Bucket).
PRIMARY_MEMBERS: dict[str, frozenset[str]] = {
    "s3": frozenset({"Bucket"}), "lambda": frozenset({"FunctionName"}), "kms": frozenset({"KeyId"}),
    "rds": frozenset({"DBInstanceIdentifier", "DBClusterIdentifier"}),
}
TAGGING_ACTIONS = frozenset({"CreateTags", "DeleteTags", "TagResource", "UntagResource", "PutBucketTagging", "DeleteBucketTagging",
                             "TagRole", "UntagRole", "TagUser", "UntagUser", "AddTagsToResource", "RemoveTagsFromResource"})
_ARN_TYPES = {("ec2",): "", ("iam", "role"): "Role", ("iam", "user"): "User", ("iam", "group"): "Group",
              ("iam", "policy"): "Policy", ("iam", "instance-profile"): "InstanceProfile", ("s3",): "Bucket",
              ("lambda", "function"): "Function", ("rds", "db"): "DBInstance", ("rds", "cluster"): "DBCluster",
              ("kms", "key"): "Key", ("kms", "alias"): "Alias"}
MAX_RESOURCES = 64  # per event: a call on thousands of ids (a bulk tag) keeps the first ones


@dataclass(frozen=True)
class Touched:
    """The normalised identifiers an event names, and which of them it changes and creates."""

    named: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    created: tuple[str, ...] = ()


NOTHING = Touched()


def normalise_arn(arn: str) -> str:
    """One spelling per resource (see the module docstring); an ARN it does not know, as given."""
    found = _ARN.match(arn)
    if found is None:
        return arn
    partition, service, region, account, rest = found.groups()
    if service == "ec2":
        tail = rest.rsplit("/", 1)[-1]
        return tail if _EC2_ID.match(tail) else arn
    if service == "s3":
        return f"arn:{partition}:s3:::{rest.split('/', 1)[0]}"
    if service == "iam":
        kind, _, name = rest.partition("/")
        return f"arn:{partition}:iam::{account}:{kind}/{name.rsplit('/', 1)[-1]}" if name else arn
    if service == "lambda" and rest.startswith("function:"):
        return f"arn:{partition}:lambda:{region}:{account}:function:{rest.split(':')[1]}"
    return arn


def _type_word(resource: str) -> str:
    found = _EC2_ID.match(resource)
    if found:
        return EC2_TYPES.get(found.group(1), "")
    arn = _ARN.match(resource)
    if arn is None:
        return ""
    service, rest = arn.group(2), arn.group(5)
    kind = re.split(r"[/:]", rest, maxsplit=1)[0]
    return _ARN_TYPES.get((service, kind)) or _ARN_TYPES.get((service,), "")


def _member_value(service: str, member: str, value: str, scope: dict[str, str]) -> str | None:
    """The normalised identifier a member's value names, or None when it names none."""
    if value.startswith("arn:"):
        return normalise_arn(value)
    if service == "ec2" and (member.endswith("Id") or member.endswith("Ids") or member == "Resources"):
        found = _EC2_ID.match(value)
        return value if found and found.group(1) in EC2_TYPES else None
    template = NAMED_MEMBERS.get((service, member))
    if template is None or not value or any(c.isspace() for c in value):
        return None
    if service == "lambda" and ":" in value:  # a partial ARN (ACCOUNT:function:NAME) or NAME:QUALIFIER
        parts = value.split(":")
        value = parts[2] if len(parts) >= 3 and parts[1] == "function" else parts[0]
    if service == "kms" and member == "KeyId" and value.startswith("alias/"):
        return template[0].replace("key/{v}", "{v}").format(v=value, **scope)
    return template[0].format(v=value, **scope)


def _walk(service: str, shape: Shape | None, value: Any, member: str = "") -> Iterator[tuple[str, str]]:
    """(member name, string value) of every scalar reached through structure members."""
    if shape is None:
        return
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, inner in value.items():
            if name in shape.members:
                yield from _walk(service, shape.members[name], inner, name)
    elif kind == "list" and isinstance(value, list):
        for inner in value:
            yield from _walk(service, shape.member, inner, member)
    elif kind == "string" and isinstance(value, str) and member:
        yield member, value


def touched(event: dict) -> Touched:
    """The resources ``event`` names and which of them it changes and creates (module docstring)."""
    source, action = event.get("eventSource"), event.get("eventName")
    if not isinstance(action, str):
        return NOTHING
    found = awscli.service_and_operation(source, action)
    logged_region = event.get("awsRegion")
    region = logged_region if isinstance(logged_region, str) else ""
    logged_identity = event.get("userIdentity")
    identity: dict[str, Any] = logged_identity if isinstance(logged_identity, dict) else {}
    account = event.get("recipientAccountId") or identity.get("accountId") or ""
    partition = "aws"
    arn_found = _ARN.match(str(identity.get("arn") or ""))
    if arn_found:
        partition = arn_found.group(1)
    scope = {"p": partition, "r": region, "a": account if isinstance(account, str) else ""}
    requested: dict[str, str] = {}
    responded: dict[str, str] = {}
    primary: set[str] = set()
    if found is not None:
        service, operation = found
        try:
            api = clickcode.api_input(source, action, event.get("requestParameters"), validate=False)
            model = clickcode.operation_model(source, action)
            if model is None:  # service_and_operation found it: only a changed botocore could say otherwise
                return NOTHING
            for member, value in _walk(service, model.input_shape, api.parameters):
                if (resource := _member_value(service, member, value, scope)) is not None:
                    requested.setdefault(resource, member)
                    if member in PRIMARY_MEMBERS.get(service, ()):
                        primary.add(resource)
            response = event.get("responseElements")
            output = clickcode.api_output(service, operation, response) if response else {}
            for member, value in _walk(service, model.output_shape, output):
                if (resource := _member_value(service, member, value, scope)) is not None:
                    responded.setdefault(resource, member)
        except (TypeError, ValueError, RecursionError, KeyError):  # an odd event names nothing, it fails nothing
            requested, responded = {}, {}
    logged = []
    for item in event.get("resources") or () if isinstance(event.get("resources"), list) else ():
        arn = item.get("ARN") or item.get("arn") if isinstance(item, dict) else None
        if isinstance(arn, str) and arn.startswith("arn:"):
            logged.append(normalise_arn(arn))
    named = list(dict.fromkeys([*requested, *responded, *logged]))[:MAX_RESOURCES]
    created = [r for r in named if _created(action, r, r in requested, r in responded)]
    changed = [r for r in named if r in created or r in primary or action in TAGGING_ACTIONS
               or ((word := _type_word(r)) and word in action)]
    if source == "s3.amazonaws.com" and _is_object_call(action):
        changed = []
    return Touched(tuple(named), tuple(changed[:MAX_RESOURCES]), tuple(created[:MAX_RESOURCES]))


_API_VERSION_SUFFIX = re.compile(r"\d{8}(?:v\d+)?$")  # Lambda's CreateFunction20150331
_CREATING = re.compile(r"^(Create|Run|Allocate|Register|Import)([A-Z].*)$")


def _created(action: str, resource: str, in_request: bool, in_response: bool) -> bool:
    """Created by this call: a creating action whose type word is in its name, and the
    resource new in the response (CreateSecurityGroup's GroupId, RunInstances' instance ids)
    or named by the request as the one thing created (CreateBucket, CreateRole, CreateDBInstance)."""
    found = _CREATING.match(_API_VERSION_SUFFIX.sub("", action))
    word = _type_word(resource)
    if found is None or not word or word not in found.group(2):
        return False
    return (in_response and not in_request) or (in_request and found.group(2) == word)


def _is_object_call(action: str) -> bool:
    """S3 object-level calls (PutObject, DeleteObjects): data in a bucket, not the bucket."""
    return "Object" in action or action in ("UploadPart", "CompleteMultipartUpload", "CreateMultipartUpload")
