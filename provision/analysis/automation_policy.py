"""The least-privilege IAM policy a command or a workflow script needs.

Actions: one per operation, `<IAM prefix>:<Operation>` from botocore's model (the service's
signing name is its IAM prefix for nearly every service; :data:`IAM_PREFIXES` lists the
exceptions), except where IAM names the permission differently from the API
(:data:`IAM_ACTIONS`, a small named table: S3's PutPublicAccessBlock needs
s3:PutBucketPublicAccessBlock, ...).

Resources: as precise as the parameters make them, for S3 (a bucket's or an object's ARN,
when the bucket and key are fixed values of plain characters). Everything else gets "*",
and the notes say so: ctstack does not derive other services' resource ARNs (IAM's resource
types differ per action, EC2's create actions need several). A value that varies from run to
run (a script's argument, an id an earlier step creates) makes the resource a wildcard.
`aws sts get-caller-identity` (the scripts' account check) needs no permission.
"""

from __future__ import annotations

import re
from typing import Any

from provision.cloudtrail import clickcode

# Services whose IAM prefix is not their signing name.
IAM_PREFIXES = {"monitoring": "cloudwatch", "email": "ses"}
# Operations whose IAM action is named differently from the API operation.
IAM_ACTIONS = {
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("s3", "DeleteBucketTagging"): "s3:PutBucketTagging",
    ("s3", "DeleteBucketCors"): "s3:PutBucketCORS",
    ("s3", "PutBucketCors"): "s3:PutBucketCORS",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "CopyObject"): "s3:PutObject",
    ("s3", "PutBucketOwnershipControls"): "s3:PutBucketOwnershipControls",
    ("lambda", "UpdateFunctionCode20150331v2"): "lambda:UpdateFunctionCode",
}
_PLAIN = re.compile(r"^[A-Za-z0-9_.+=,@/-]+$")  # no IAM wildcard (* ?) and nothing odd
ANY_RESOURCE_NOTE = "resource \"*\": ctstack derives resource ARNs for S3 buckets and objects only"


def iam_action(service: str, operation: str) -> str:
    renamed = IAM_ACTIONS.get((service, operation))
    if renamed:
        return renamed
    metadata = clickcode.service_model(service).metadata
    signing = metadata.get("signingName") or metadata.get("endpointPrefix") or service
    return f"{IAM_PREFIXES.get(signing, signing)}:{operation}"


def _resource(service: str, parameters: dict[str, Any], variable: set[str]) -> tuple[str, str | None]:
    """(resource, a note when it is not precise) for one call."""
    if service != "s3" or "Bucket" not in parameters:
        return "*", ANY_RESOURCE_NOTE
    bucket = parameters["Bucket"]
    fixed = "Bucket" not in variable and isinstance(bucket, str) and _PLAIN.match(bucket) and "/" not in bucket
    base = f"arn:aws:s3:::{bucket}" if fixed else "arn:aws:s3:::*"
    note = None if fixed else "bucket \"*\": the bucket varies from run to run"
    if "Key" in parameters:
        key = parameters["Key"]
        if fixed and "Key" not in variable and isinstance(key, str) and _PLAIN.match(key):
            return f"{base}/{key}", None
        return f"{base}/*", note or "object \"*\": the key varies from run to run"
    return base, note


def policy(calls: list[tuple[str, str, dict[str, Any], set[str]]]) -> tuple[dict[str, Any], list[str]]:
    """(the IAM policy, notes on what is not precise) for calls of (service, operation,
    parameters, names of the top-level members whose value varies)."""
    by_action: dict[str, set[str]] = {}
    notes: list[str] = []
    for service, operation, parameters, variable in calls:
        resource, note = _resource(service, parameters, variable)
        action = iam_action(service, operation)
        by_action.setdefault(action, set()).add(resource)
        if note and f"{action}: {note}" not in notes:
            notes.append(f"{action}: {note}")
    statements = [{"Effect": "Allow", "Action": action, "Resource": sorted(resources) if len(resources) > 1 else next(iter(resources))}
                  for action, resources in sorted(by_action.items())]
    return {"Version": "2012-10-17", "Statement": statements}, notes
