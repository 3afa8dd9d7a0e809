"""One bucket read: its own region found with HeadBucket, listings page by page, objects
downloaded whole (a body cut off mid-stream is fetched again), and :func:`read_ahead`, which
lists several prefixes at once with bounded memory."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, IncompleteReadError

from provision.core.errors import CtstackError
from provision.sources.s3access import (DEFAULT_WORKERS, DENIED_CODES, LIST_AHEAD, PAGES_AHEAD, READ_ATTEMPTS,
                                        REDIRECT_CODES, STREAM_ERRORS, ObjectUnreadable, S3Object, credentials_problem,
                                        denied_sentence, error_code, listing_error, object_problem, probe_config,
                                        retry_config)
from provision.sources.s3layout import S3_SCHEME


def _bucket_region_header(response: dict) -> str | None:
    return response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")


class S3Bucket:
    """One bucket, through a client in the bucket's own region. Counts its list requests."""

    def __init__(self, session: boto3.Session, name: str, *, endpoint_url: str | None = None, config: Config | None = None,
                 prefix: str = "") -> None:
        self.name = name
        self.prefix = prefix  # what will be listed: a ListBucket grant may be limited to it
        self.list_requests = 0
        self._count_lock = threading.Lock()
        self._session, self._endpoint_url, self._config = session, endpoint_url, config or retry_config(DEFAULT_WORKERS)
        self.client = self._client(session.region_name or "us-east-1")
        region = self._bucket_region(self._client(self.client.meta.region_name, probe_config(self._config)))
        if region and region != self.client.meta.region_name:
            self.client = self._client(region)

    def _client(self, region: str, config: Config | None = None) -> Any:
        return self._session.client("s3", region_name=region, endpoint_url=self._endpoint_url, config=config or self._config)

    def _bucket_region(self, probe: Any) -> str | None:
        """HeadBucket proves the bucket exists and may be listed, and names its region
        (asked through ``probe``, a client with short timeouts and few retries)."""
        try:
            response = probe.head_bucket(Bucket=self.name)
        except ClientError as err:
            region = _bucket_region_header(err.response)
            if error_code(err) in REDIRECT_CODES and region:
                return region
            if error_code(err) in ("403", "400"):
                # A HEAD answer has no body: ask again with a request whose error says why
                # (AccessDenied, ExpiredToken, InvalidAccessKeyId ...). If listing what will
                # be listed works, go on: a ListBucket grant limited by s3:prefix denies
                # HeadBucket on real AWS.
                try:
                    response = probe.list_objects_v2(Bucket=self.name, Prefix=self.prefix, MaxKeys=1)
                except ClientError as detailed:
                    region = _bucket_region_header(detailed.response)
                    if error_code(detailed) in REDIRECT_CODES and region:
                        return region
                    raise listing_error(detailed, self.name, self.prefix) from None
                except BotoCoreError as detailed:
                    raise listing_error(detailed, self.name, self.prefix) from None
                return _bucket_region_header(response)
            raise listing_error(err, self.name, "") from None
        except BotoCoreError as err:
            raise listing_error(err, self.name, "") from None
        return _bucket_region_header(response)

    @property
    def region(self) -> str:
        return self.client.meta.region_name

    def _pages(self, prefix: str, **kwargs: Any) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.name, Prefix=prefix, **kwargs):
                with self._count_lock:
                    self.list_requests += 1
                yield page
        except (ClientError, BotoCoreError) as err:
            raise listing_error(err, self.name, prefix) from None

    def children(self, prefix: str) -> Iterator[str]:
        """The "sub-folders" of ``prefix`` (CommonPrefixes with Delimiter="/")."""
        for page in self._pages(prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", ()):
                yield common["Prefix"]

    def object_pages(self, prefix: str) -> Iterator[list[S3Object]]:
        """Every object under ``prefix``, one list per page of the listing."""
        for page in self._pages(prefix):
            yield [S3Object(self.name, item["Key"], item.get("ETag", "").strip('"'), item.get("Size"))
                   for item in page.get("Contents", ())]

    def head(self, key: str) -> S3Object:
        try:
            response = self.client.head_object(Bucket=self.name, Key=key)
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and error_code(err) in ("404", "NoSuchKey", "NotFound"):
                raise CtstackError(f"There is no object {S3_SCHEME}{self.name}/{key}.") from None
            if isinstance(err, ClientError) and error_code(err) in DENIED_CODES:
                raise CtstackError(denied_sentence("s3:GetObject", f"{S3_SCHEME}{self.name}/{key}", error_code(err))) from None
            raise listing_error(err, self.name, key) from None
        return S3Object(self.name, key, response.get("ETag", "").strip('"'), response.get("ContentLength"))

    def download(self, obj: S3Object) -> tuple[bytes, str]:
        """The object's bytes and ETag. Raises ObjectUnreadable (this object only) or
        CtstackError (the credentials or the network: the whole run)."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                response = self.client.get_object(Bucket=obj.bucket, Key=obj.key)
                body = response["Body"]
                try:
                    data = body.read()
                finally:
                    body.close()
                length = response.get("ContentLength")
                if length is not None and len(data) != length:
                    raise IncompleteReadError(actual_bytes=len(data), expected_bytes=length)
                return data, str(response.get("ETag", obj.etag)).strip('"')
            except STREAM_ERRORS as err:
                if attempt == READ_ATTEMPTS:
                    raise ObjectUnreadable(object_problem(err, obj)) from None
                time.sleep(0.5 * attempt)
            except (ClientError, BotoCoreError) as err:
                problem = credentials_problem(err)
                if problem:
                    raise CtstackError(problem) from None
                if isinstance(err, EndpointConnectionError):
                    raise CtstackError(f"Cannot reach S3 ({err}); check the network, the region or --endpoint-url.") from None
                raise ObjectUnreadable(object_problem(err, obj)) from None
        raise AssertionError("unreachable")


T = TypeVar("T")
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(sources: Iterable[str], produce: Callable[[str], Iterator[T]], ahead: int = LIST_AHEAD, items_ahead: int = PAGES_AHEAD) -> Iterator[T]:
    """``produce(source)`` for each source, up to ``ahead`` sources at a time in threads,
    yielded in source order. Each producer runs at most ``items_ahead`` items ahead, so
    memory stays bounded however long a source is. (Listing prefixes one after the other
    would make an organisation's thousands of small prefixes wait on each other's latency.)"""
    stop = threading.Event()

    def put(out: queue.Queue, item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def pump(source: str, out: queue.Queue) -> None:
        try:
            for item in produce(source):
                if not put(out, item):
                    return
            put(out, _END)
        except BaseException as err:  # handed to the consumer, raised there in order
            put(out, _Failed(err))

    def drain(out: queue.Queue) -> Iterator[T]:
        while (item := out.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item

    with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="ctstack-s3-list") as pool:
        window: deque[queue.Queue] = deque()
        try:
            for source in sources:
                if len(window) >= ahead:
                    yield from drain(window.popleft())
                out: queue.Queue = queue.Queue(maxsize=items_ahead)
                pool.submit(pump, source, out)
                window.append(out)
            while window:
                yield from drain(window.popleft())
        finally:
            stop.set()
