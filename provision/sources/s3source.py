"""S3 objects -> :class:`~provision.cloudtrail.records.SourceFile`: import straight from a CloudTrail bucket.

boto3 all the way: the default credential chain (``--profile`` for named and SSO profiles,
environment, instance roles; never keys on the command line), the bucket's own region
(found with HeadBucket), botocore's standard or adaptive retries, paginators.

Memory is bounded: the listing is streamed page by page (up to 8 prefixes listed at the
same time, each at most 2 pages ahead), objects already imported are looked up in batches
(:mod:`provision.sources.s3state`), and downloads run in a bounded thread pool whose results are
handed to the import pipeline in listing order through a window of ``2 × workers`` objects.
``is_s3_url`` and ``parse_s3_url`` come from :mod:`provision.sources.s3layout` (no boto3 import).

Failures: anything that stops the whole run (no credentials, expired token, missing
bucket, no s3:ListBucket, wrong region that cannot be fixed) raises :class:`CtstackError`
with one sentence. An object that cannot be downloaded (s3:GetObject denied, KMS key
denied, archived in Glacier, deleted meanwhile) fails that one file: the importer counts
it with its reason, the run goes on and exits non-zero, and the object is not recorded as
imported, so the next run tries it again.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    ResponseStreamingError,
    SSOError,
    TokenRetrievalError,
)
from elasticsearch import Elasticsearch

from provision.core import settings
from provision.core.connection import display_url
from provision.core.errors import CtstackError
from provision.cloudtrail.records import EVENT_FILE_SUFFIXES, SourceFile
from provision.sources.s3layout import S3_SCHEME, S3Filters, is_s3_url, log_prefixes, parse_s3_url
from provision.sources.s3state import BATCH_SIZE, ImportedObjects

DEFAULT_WORKERS = settings.S3_WORKERS
WINDOW_PER_WORKER = 2          # downloaded-or-downloading objects held per worker
LIST_AHEAD = 8                 # prefixes listed at the same time, each at most PAGES_AHEAD pages ahead
PAGES_AHEAD = 2                # (a page is up to 1,000 keys)
READ_ATTEMPTS = 3              # a body cut off mid-stream is fetched again (botocore retries requests, not reads)
ENDPOINT_ENV = "CTSTACK_S3_ENDPOINT_URL"

# botocore error codes, grouped by what the user has to do about them.
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
INVALID_KEY_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "InvalidClientTokenId", "UnrecognizedClientException"}
DENIED_CODES = {"AccessDenied", "403", "AllAccessDisabled", "Forbidden"}
MISSING_BUCKET_CODES = {"NoSuchBucket", "404", "NotFound"}
REDIRECT_CODES = {"PermanentRedirect", "301", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
STREAM_ERRORS = (ResponseStreamingError, ReadTimeoutError, ConnectionClosedError, IncompleteReadError)


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    etag: str
    size: int | None

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"


def without_login(url: str | None, option: str, http_only: bool = True) -> str | None:
    """``url`` if it is an http(s) URL without ``user:password@`` (AWS signs its requests with the AWS
    credentials: a login in an endpoint URL is a mistake, and botocore's errors would print
    it), else one sentence that shows the URL without it."""
    if url is None:
        return None
    scheme, separator, rest = url.partition("://")
    if "@" in (rest if separator else url):
        raise CtstackError(f"{option} {display_url(url)} holds a user or password; AWS endpoints take none "
                           "(the AWS credentials sign each request): leave the user info out.")
    if http_only and (not separator or scheme.lower() not in ("http", "https")):
        raise CtstackError(f"{option} {display_url(url)} is not an http:// or https:// URL.")
    return url


class BucketMissing(CtstackError):
    """The bucket does not exist (or is not visible to the credentials)."""


class ObjectUnreadable(Exception):
    """One object could not be downloaded; ``str(err)`` is the reason the summary shows."""


# -- errors ---------------------------------------------------------------------------------

def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _credentials_problem(err: Exception) -> str | None:
    """A sentence when ``err`` means the credentials themselves are missing or bad."""
    if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
        return ("No AWS credentials found: use --profile (named or SSO profile), AWS_PROFILE, "
                "the AWS_* environment variables or an instance role.")
    if isinstance(err, (SSOError, TokenRetrievalError)):
        return f"The AWS SSO session cannot be used ({err}); run `aws sso login` for the profile."
    if isinstance(err, ClientError):
        code = _code(err)
        if code in EXPIRED_CODES:
            return f"The AWS credentials have expired ({code}); refresh them (aws sso login, or new session credentials) and run again."
        if code in INVALID_KEY_CODES:
            return f"AWS rejected the credentials ({code}); check the profile or the AWS_* environment variables."
    return None


def _denied_sentence(permission: str, where: str, code: str) -> str:
    return f"Access denied ({code}): the AWS identity lacks {permission} on {where}."


def listing_error(err: Exception, bucket: str, prefix: str) -> CtstackError:
    """One sentence for a failure while finding or listing objects (always fatal)."""
    where = f"{S3_SCHEME}{bucket}/{prefix}"
    problem = _credentials_problem(err)
    if problem:
        return CtstackError(problem)
    if isinstance(err, ClientError):
        code = _code(err)
        if code in MISSING_BUCKET_CODES:
            return BucketMissing(f"The S3 bucket {bucket} does not exist (or is not visible to these credentials).")
        if code in DENIED_CODES:
            return CtstackError(_denied_sentence("s3:ListBucket", where, code))
        if code in REDIRECT_CODES:
            return CtstackError(f"The S3 bucket {bucket} is in another region than the client ({code}) and its region could not be found; set AWS_REGION to the bucket's region.")
        message = err.response.get("Error", {}).get("Message", "")
        return CtstackError(f"S3 refused to list {where} ({code}: {message}).")
    if isinstance(err, EndpointConnectionError):
        return CtstackError(f"Cannot reach S3 ({err}); check the network, the region or --endpoint-url.")
    if isinstance(err, ReadTimeoutError):
        return CtstackError(f"S3 did not answer ({err}); check the network, the region or --endpoint-url.")
    return CtstackError(f"Listing {where} failed: {err}.")


def object_problem(err: Exception, obj: S3Object) -> str:
    """The reason one object could not be read (not fatal for the run)."""
    if isinstance(err, ClientError):
        code = _code(err)
        message = str(err.response.get("Error", {}).get("Message", ""))
        if code.startswith("KMS") or "KMS" in message:
            return f"access denied to its KMS key ({code}): the AWS identity needs kms:Decrypt for {obj.url}"
        if code in DENIED_CODES:
            return f"access denied ({code}): the AWS identity lacks s3:GetObject on {obj.url}"
        if code in ("NoSuchKey", "404"):
            return f"the object was deleted after it was listed: {obj.url}"
        if code == "InvalidObjectState":
            return f"the object is archived (Glacier/Deep Archive); restore it before importing: {obj.url}"
        return f"S3 GetObject failed ({code}: {message}) for {obj.url}"
    return f"download failed ({type(err).__name__}: {err}) for {obj.url}"


# -- the bucket -------------------------------------------------------------------------------

def _bucket_region_header(response: dict) -> str | None:
    return response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")


def aws_session(profile: str | None = None) -> boto3.Session:
    """A boto3 session on the default credential chain, or the named (SSO) profile."""
    try:
        session = boto3.Session(profile_name=profile)
    except ProfileNotFound:
        raise CtstackError(f"The AWS profile {profile!r} is not in ~/.aws/config or ~/.aws/credentials.") from None
    try:
        credentials = session.get_credentials()
    except (BotoCoreError, ClientError) as err:
        raise CtstackError(_credentials_problem(err) or f"Cannot load AWS credentials: {err}.") from None
    if credentials is None:
        raise CtstackError(_credentials_problem(NoCredentialsError()))  # type: ignore[arg-type]
    return session


# The first request to a bucket (HeadBucket) proves S3 can be reached at all: it gets short
# timeouts and few attempts, so an unreachable endpoint fails in about 12 s at most (3 attempts
# of at most 3 s, plus botocore's backoff of at most 1 + 2 s) instead of a minute in silence.
PROBE_TIMEOUT = 3
PROBE_ATTEMPTS = 3


def probe_config(config: Config) -> Config:
    """``config`` with the bounded timeouts and retries of the first request to a bucket."""
    mode = (config.retries or {}).get("mode") or "standard"
    return config.merge(Config(connect_timeout=PROBE_TIMEOUT, read_timeout=PROBE_TIMEOUT,
                               retries={"mode": mode, "max_attempts": PROBE_ATTEMPTS}))


def retry_config(workers: int) -> Config:
    """botocore's standard retry mode (or AWS_RETRY_MODE=adaptive), connections for every thread."""
    mode = os.environ.get("AWS_RETRY_MODE") or "standard"
    return Config(
        retries={"mode": mode, "max_attempts": 10},
        max_pool_connections=workers + LIST_AHEAD + 2,  # downloads and listings share it
        connect_timeout=10,
        read_timeout=60,
    )


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
            if _code(err) in REDIRECT_CODES and region:
                return region
            if _code(err) in ("403", "400"):
                # A HEAD answer has no body: ask again with a request whose error says why
                # (AccessDenied, ExpiredToken, InvalidAccessKeyId ...). If listing what will
                # be listed works, go on: a ListBucket grant limited by s3:prefix denies
                # HeadBucket on real AWS.
                try:
                    response = probe.list_objects_v2(Bucket=self.name, Prefix=self.prefix, MaxKeys=1)
                except ClientError as detailed:
                    region = _bucket_region_header(detailed.response)
                    if _code(detailed) in REDIRECT_CODES and region:
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
            if isinstance(err, ClientError) and _code(err) in ("404", "NoSuchKey", "NotFound"):
                raise CtstackError(f"There is no object {S3_SCHEME}{self.name}/{key}.") from None
            if isinstance(err, ClientError) and _code(err) in DENIED_CODES:
                raise CtstackError(_denied_sentence("s3:GetObject", f"{S3_SCHEME}{self.name}/{key}", _code(err))) from None
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
                problem = _credentials_problem(err)
                if problem:
                    raise CtstackError(problem) from None
                if isinstance(err, EndpointConnectionError):
                    raise CtstackError(f"Cannot reach S3 ({err}); check the network, the region or --endpoint-url.") from None
                raise ObjectUnreadable(object_problem(err, obj)) from None
        raise AssertionError("unreachable")


# -- the source ---------------------------------------------------------------------------------

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
            yield item  # type: ignore[misc]

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


class _OneShot:
    """``read()`` of a downloaded object: hands the bytes over once and forgets them, so a
    file the pipeline still tracks does not pin its download; a second call fetches again."""

    def __init__(self, data: bytes, fetch: Callable[[], bytes]) -> None:
        self._data: bytes | None = data
        self._fetch = fetch
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            data, self._data = self._data, None
        return data if data is not None else self._fetch()


def _unreadable(reason: str) -> Callable[[], bytes]:
    def read() -> bytes:
        raise ObjectUnreadable(reason)
    return read


def _batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class S3Import:
    """SourceFiles for ``s3://`` URLs, plus the incremental-import state around them.

    Use: ``files()`` feeds :func:`provision.ingest.importer.run_import`, ``on_file_done`` is its
    callback, then ``close()`` writes the remaining state; ``stats`` goes into the summary.
    Without ``es`` nothing is remembered (every listed object is downloaded).
    """

    def __init__(
        self,
        urls: Iterable[str],
        filters: S3Filters | None = None,
        *,
        es: Elasticsearch | None = None,
        index_prefix: str = settings.INDEX_PREFIX,
        state_index: str = settings.STATE_INDEX,
        full: bool = False,
        profile: str | None = None,
        endpoint_url: str | None = None,
        workers: int = DEFAULT_WORKERS,
        session: boto3.Session | None = None,
    ) -> None:
        if workers < 1:
            raise CtstackError(f"--workers must be at least 1 (got {workers}).")
        self.urls = [parse_s3_url(u) for u in urls]
        self.filters = filters or S3Filters()
        self.state = ImportedObjects(es, index_prefix, state_index) if es is not None else None
        self.full = full
        self.profile = profile
        self.endpoint_url = without_login(endpoint_url or os.environ.get(ENDPOINT_ENV) or None,
                                          "--endpoint-url" if endpoint_url else ENDPOINT_ENV)
        self.workers = workers
        self.list_ahead = LIST_AHEAD
        self._session = session
        self._buckets: dict[str, S3Bucket] = {}
        self._lock = threading.Lock()
        self.stats = {
            "objects_listed": 0,
            "objects_downloaded": 0,
            "objects_skipped_already_imported": 0,
            "bytes_downloaded": 0,
            "s3_list_requests": 0,
        }

    # -- connecting ---------------------------------------------------------------------------
    def bucket(self, name: str) -> S3Bucket:
        if name not in self._buckets:
            if self._session is None:
                self._session = aws_session(self.profile)
            prefix = next((prefix for bucket, prefix in self.urls if bucket == name), "")
            self._buckets[name] = S3Bucket(self._session, name, endpoint_url=self.endpoint_url, config=retry_config(self.workers),
                                           prefix=prefix)
        return self._buckets[name]

    def check(self) -> None:
        """Fail now, with one sentence, if a bucket is missing, denied or unreachable."""
        for name, _ in self.urls:
            self.bucket(name)

    # -- listing ------------------------------------------------------------------------------
    def listed_objects(self) -> Iterator[S3Object]:
        """The wanted objects of every URL, streamed (the listing prunes by the filters)."""
        for name, prefix in self.urls:
            bucket = self.bucket(name)
            try:
                if prefix.lower().endswith(EVENT_FILE_SUFFIXES):  # a URL naming one object
                    objects: Iterable[S3Object] = [bucket.head(prefix)]
                else:
                    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
                    leaves = log_prefixes(bucket.children, folder, self.filters)
                    objects = (o for page in read_ahead(leaves, bucket.object_pages, self.list_ahead) for o in page)
                for obj in objects:
                    if self.filters.wants_key(obj.key):
                        self.stats["objects_listed"] += 1
                        yield obj
            finally:
                self.stats["s3_list_requests"] = sum(b.list_requests for b in self._buckets.values())

    def pending_objects(self) -> Iterator[S3Object]:
        """Listed objects minus those already imported with the same ETag (unless full)."""
        for batch in _batched(self.listed_objects(), BATCH_SIZE):
            done = self.state.imported(batch) if self.state is not None and not self.full else set()
            for obj in batch:
                if (obj.bucket, obj.key) in done:
                    self.stats["objects_skipped_already_imported"] += 1
                else:
                    yield obj

    # -- downloading ----------------------------------------------------------------------------
    def _fetch(self, obj: S3Object) -> tuple[bytes, str]:
        data, etag = self.bucket(obj.bucket).download(obj)
        with self._lock:
            self.stats["objects_downloaded"] += 1
            self.stats["bytes_downloaded"] += len(data)
        return data, etag

    def _source_file(self, obj: S3Object, future: Future) -> SourceFile:
        meta = {"bucket": obj.bucket, "key": obj.key, "etag": obj.etag, "size": obj.size}
        try:
            data, etag = future.result()
        except ObjectUnreadable as err:
            return SourceFile(name=obj.url, read=_unreadable(str(err)), size=obj.size, meta=meta)
        meta["etag"] = etag  # what was actually downloaded (the object may have changed since listing)
        return SourceFile(name=obj.url, read=_OneShot(data, lambda: self._fetch(obj)[0]), size=obj.size, meta=meta)

    def files(self) -> Iterator[SourceFile]:
        """SourceFiles in listing order, downloaded ahead by ``workers`` threads; at most
        ``WINDOW_PER_WORKER × workers`` objects are downloaded but not yet handed over."""
        self.check()
        window: deque[tuple[S3Object, Future]] = deque()
        limit = WINDOW_PER_WORKER * self.workers
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ctstack-s3") as pool:
            try:
                for obj in self.pending_objects():
                    window.append((obj, pool.submit(self._fetch, obj)))
                    if len(window) >= limit:
                        yield self._source_file(*window.popleft())
                while window:
                    yield self._source_file(*window.popleft())
            finally:
                for _, future in window:
                    future.cancel()

    # -- state ----------------------------------------------------------------------------------
    def on_file_done(self, file: SourceFile, outcome: Any) -> None:
        """The importer's callback: remember an object once all its events are in.

        Objects whose events all went in, or that were skipped for their content (digest,
        empty, corrupt: the same ETag is the same content, so retrying cannot help) are
        remembered; objects with failed events or that could not be downloaded are not, nor
        objects with events outside the filters (a later run with other filters wants them).
        """
        meta = file.meta or {}
        if self.state is None or "bucket" not in meta or "etag" not in meta:
            return  # not one of ours (a local file in the same import)
        if outcome.failed or getattr(outcome, "filtered", 0) or getattr(outcome, "unknown", 0) or getattr(outcome, "failed_reason", None):
            return
        self.state.remember(meta["bucket"], meta["key"], meta["etag"], meta.get("size"), outcome.events, outcome.skipped_reason)

    def close(self) -> None:
        """Write the remaining state (call after the import, also after a failed one).
        Objects that could not be remembered are counted in ``stats`` (re-downloaded next
        time, never duplicated)."""
        if self.state is not None:
            self.state.flush()
            if self.state.unsaved:
                self.stats["objects_not_remembered"] = self.state.unsaved
                self.stats["state_error"] = self.state.error


def s3_files(urls: Iterable[str], filters: S3Filters | None = None, **options: Any) -> Iterator[SourceFile]:
    """SourceFiles for ``s3://`` URLs without import state (see :class:`S3Import`)."""
    return S3Import(urls, filters, **options).files()
