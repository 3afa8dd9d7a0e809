"""S3 access: the boto3 session on the default credential chain, the client configuration
(retries, bounded probe), and every S3 failure as one sentence saying what to do.

Failures: anything that stops the whole run (no credentials, expired token, missing
bucket, no s3:ListBucket, wrong region that cannot be fixed) raises :class:`CtstackError`
with one sentence. An object that cannot be downloaded (s3:GetObject denied, KMS key
denied, archived in Glacier, deleted meanwhile) fails that one file
(:class:`ObjectUnreadable`, :func:`object_problem`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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

from provision.core import settings
from provision.core.urls import display_url
from provision.core.errors import CtstackError
from provision.sources.s3layout import S3_SCHEME

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

def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def credentials_problem(err: Exception) -> str | None:
    """A sentence when ``err`` means the credentials themselves are missing or bad."""
    if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
        return ("No AWS credentials found: use --profile (named or SSO profile), AWS_PROFILE, "
                "the AWS_* environment variables or an instance role.")
    if isinstance(err, (SSOError, TokenRetrievalError)):
        return f"The AWS SSO session cannot be used ({err}); run `aws sso login` for the profile."
    if isinstance(err, ClientError):
        code = error_code(err)
        if code in EXPIRED_CODES:
            return f"The AWS credentials have expired ({code}); refresh them (aws sso login, or new session credentials) and run again."
        if code in INVALID_KEY_CODES:
            return f"AWS rejected the credentials ({code}); check the profile or the AWS_* environment variables."
    return None


def denied_sentence(permission: str, where: str, code: str) -> str:
    return f"Access denied ({code}): the AWS identity lacks {permission} on {where}."


def listing_error(err: Exception, bucket: str, prefix: str) -> CtstackError:
    """One sentence for a failure while finding or listing objects (always fatal)."""
    where = f"{S3_SCHEME}{bucket}/{prefix}"
    problem = credentials_problem(err)
    if problem:
        return CtstackError(problem)
    if isinstance(err, ClientError):
        code = error_code(err)
        if code in MISSING_BUCKET_CODES:
            return BucketMissing(f"The S3 bucket {bucket} does not exist (or is not visible to these credentials).")
        if code in DENIED_CODES:
            return CtstackError(denied_sentence("s3:ListBucket", where, code))
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
        code = error_code(err)
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



def aws_session(profile: str | None = None) -> boto3.Session:
    """A boto3 session on the default credential chain, or the named (SSO) profile."""
    try:
        session = boto3.Session(profile_name=profile)
    except ProfileNotFound:
        raise CtstackError(f"The AWS profile {profile!r} is not in ~/.aws/config or ~/.aws/credentials.") from None
    try:
        credentials = session.get_credentials()
    except (BotoCoreError, ClientError) as err:
        raise CtstackError(credentials_problem(err) or f"Cannot load AWS credentials: {err}.") from None
    if credentials is None:
        raise CtstackError(credentials_problem(NoCredentialsError()))
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
