"""What an S3 event notification names: S3's own ``ObjectCreated:*`` event, the same inside
an SNS envelope, CloudTrail's SNS notification, or EventBridge's ``Object Created`` event.
``s3:TestEvent`` messages, digest and Insights keys (and keys outside the filters) are
skipped with a reason."""

from __future__ import annotations

from typing import Any, Iterator
from urllib.parse import unquote_plus

import orjson

from provision.cloudtrail.records import EVENT_FILE_SUFFIXES, NOT_A_LOG_FILE_NAME
from provision.sources.s3access import S3Object
from provision.sources.s3layout import DIGESTS, INSIGHTS, S3Filters

MAX_OBJECTS_PER_MESSAGE = 100  # a notification names one (S3, EventBridge) or a few (CloudTrail's SNS)


class NotANotification(ValueError):
    """The message body is not a notification ctstack understands; ``str`` says why."""


def parse_notification(body: str | bytes, filters: S3Filters | None = None) -> tuple[list[S3Object], list[str]]:
    """(objects to import, skip reasons) of one message body; raises NotANotification (also
    for a field of the wrong type, and for a message naming more than
    :data:`MAX_OBJECTS_PER_MESSAGE` objects: one message may not take a consumer's hour)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise NotANotification(f"not JSON ({err})") from None
    objects: list[S3Object] = []
    skipped: list[str] = []
    for bucket, key, size, etag in _named_objects(data, skipped):
        reason = _skip_key(key, filters or S3Filters())
        if reason:
            skipped.append(reason)
        else:
            objects.append(S3Object(bucket, key, etag or "", size))
            if len(objects) > MAX_OBJECTS_PER_MESSAGE:
                raise NotANotification(f"names more than {MAX_OBJECTS_PER_MESSAGE} objects to import; a notification names "
                                       "a few (import such a prefix with `ctstack import s3://BUCKET/PREFIX`)")
    return objects, skipped


def _field(parent: Any, name: str, kind: type, where: str) -> Any:
    """``parent[name]``, which must be a ``kind`` (a missing one counts as empty), else the
    message is not a notification we understand (a wrong shape never raises anything else)."""
    value = parent.get(name) if isinstance(parent, dict) else None
    if value is None:
        value = kind()
    if not isinstance(value, kind) or isinstance(value, bool):
        raise NotANotification(f"{where}.{name} is {type(value).__name__}, not {kind.__name__}")
    return value


def _object(bucket: Any, key: Any, size: Any, etag: Any, where: str) -> tuple[str, str, int | None, str | None]:
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise NotANotification(f"{where} names no bucket and key as text")
    return (bucket, key, size if isinstance(size, int) and not isinstance(size, bool) else None,
            etag if isinstance(etag, str) else None)


def _named_objects(data: Any, skipped: list[str]) -> Iterator[tuple[str, str, int | None, str | None]]:
    if not isinstance(data, dict):
        raise NotANotification("not an S3, SNS or CloudTrail notification (not a JSON object)")
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):  # SNS envelope
        try:
            inner = orjson.loads(data["Message"])
        except orjson.JSONDecodeError:
            raise NotANotification("an SNS notification whose Message is not JSON") from None
        yield from _named_objects(inner, skipped)
    elif data.get("Type") in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        skipped.append(f"SNS {data['Type']}")
    elif data.get("Event") == "s3:TestEvent":
        skipped.append("s3:TestEvent")
    elif "s3Bucket" in data and "s3ObjectKey" in data:  # CloudTrail's own SNS notification
        keys = data["s3ObjectKey"]
        for key in keys if isinstance(keys, list) else [keys]:
            yield _object(data["s3Bucket"], key, None, None, "the CloudTrail notification")
    elif data.get("detail-type") == "Object Created" and "detail" in data:  # EventBridge
        detail = _field(data, "detail", dict, "the EventBridge event")
        obj = _field(detail, "object", dict, "detail")
        yield _object(_field(detail, "bucket", dict, "detail").get("name"), obj.get("key"), obj.get("size"), obj.get("etag"),
                      "the EventBridge event")
    elif isinstance(data.get("Records"), list) and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in data["Records"]):
        for number, record in enumerate(data["Records"]):
            where = f"Records[{number}]"
            name = record.get("eventName")
            if not isinstance(name, str):
                raise NotANotification(f"{where}.eventName is {type(name).__name__}, not str")
            if not name.startswith("ObjectCreated"):
                skipped.append(f"S3 {name[:60]} event (not ObjectCreated)")
                continue
            s3 = _field(record, "s3", dict, where)
            obj = _field(s3, "object", dict, f"{where}.s3")
            key = obj.get("key")
            # S3 URL-encodes keys in event notifications (spaces as "+").
            yield _object(_field(s3, "bucket", dict, f"{where}.s3").get("name"), unquote_plus(key) if isinstance(key, str) else key,
                          obj.get("size"), obj.get("eTag"), where)
    else:
        raise NotANotification("not an S3, SNS or CloudTrail notification")


def _skip_key(key: str, filters: S3Filters) -> str | None:
    """Why a named object is not imported (the same rules as a folder or bucket import), or None."""
    if DIGESTS in key:
        return "CloudTrail digest file (no events)"
    if not key.lower().endswith(EVENT_FILE_SUFFIXES):
        return f"{NOT_A_LOG_FILE_NAME}: {key}"
    if INSIGHTS in key and not filters.insights:
        return "CloudTrail Insights file (--insights imports them)"
    if not filters.wants_key(key):
        return "outside --account/--region/--since/--until"
    return None
