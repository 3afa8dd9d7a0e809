"""Import the objects S3 event notifications name, from an SQS queue many processes share.

A message names objects in one of four shapes: S3's own ``ObjectCreated:*`` event
(``{"Records": [{"eventSource": "aws:s3", "s3": {...}}]}``), the same inside an SNS
envelope (``{"Type": "Notification", "Message": "..."}``), CloudTrail's SNS notification
``{"s3Bucket": ..., "s3ObjectKey": [...]}``, or EventBridge's ``Object Created`` event.
``s3:TestEvent`` messages, digest and Insights keys (and keys outside the filters) are
acknowledged and counted as skipped.

Delivery is at least once and documents' ``_id`` is the eventID, so any number of
consumers on any number of machines share one queue without duplicates. A message is
deleted only after every event of its objects is acknowledged by Elasticsearch (indexed,
already present, or dead-lettered with a reason); while its objects import, its visibility
timeout is extended. A message whose object is gone or unreadable (not gzip, not JSON) is
reported and left on the queue, so the queue's redrive policy moves it to its dead-letter
queue after ``maxReceiveCount`` receives. While Elasticsearch is unavailable nothing is
deleted and the consumer backs off; the messages come back after their visibility timeout.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from elasticsearch import ApiError, Elasticsearch, TransportError

from provision.core.connection import es_url, EsConfig, connected, describe_error
from provision.ingest.continuous import (
    ES_UNAVAILABLE, OK, StopSwitch, add_counts, backoff, es_available, lag_seconds, newest_event_time,
    options_for_many_runs,
)
from provision.core.errors import CtstackError
from provision.ingest.importer import run_import
from provision.ingest.notifications import NotANotification, parse_notification
from provision.ingest.options import ImportOptions
from provision.sources.s3layout import S3Filters
from provision.sources.s3access import BucketMissing, ObjectUnreadable, S3Object, without_login
from provision.sources.s3bucket import S3Bucket
from provision.sources.s3options import S3Options
from provision.sources.s3source import S3Import

RECEIVE_BATCH = 10          # SQS's maximum per ReceiveMessage
BATCH_MESSAGES = 50         # messages imported together (as one run_import)
LONG_POLL_SECONDS = 20      # SQS's maximum long-poll wait
MAX_REPORTED = 50           # failed messages kept in the summary (all are counted)
# Content skip reasons that mean the object is broken, not merely empty: the message is kept.
POISON_SKIPS = ("corrupt gzip", "invalid JSON", "not gzip")


@dataclass
class Notice:
    """One received message: the objects it names and what it says to skip."""

    message_id: str
    receipt: str
    receive_count: int
    objects: list[S3Object] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: str | None = None


class _NotifiedObjects(S3Import):
    """S3Import's downloads (a bounded window of parallel downloads, one object failing
    alone) for the objects the current messages name, instead of a listing."""

    batch: list[S3Object] = []

    def bucket(self, name: str) -> S3Bucket:
        """A bucket a message names that does not exist fails that message's objects alone
        (the message is poison, like one naming a gone object), not the consumer."""
        try:
            return super().bucket(name)
        except BucketMissing as err:
            raise ObjectUnreadable(str(err)) from None

    def pending_objects(self) -> Iterator[S3Object]:
        for obj in self.batch:
            self.stats["objects_listed"] += 1
            yield obj


class _Heartbeat:
    """Keeps the messages being imported invisible to other consumers: every third of the
    visibility timeout their timeout is set again, until stopped."""

    def __init__(self, sqs: Any, queue_url: str, notices: list[Notice], visibility: int) -> None:
        self.sqs, self.queue_url, self.notices, self.visibility = sqs, queue_url, notices, visibility
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="ctstack-sqs-visibility", daemon=True)
        self.extended = 0

    def __enter__(self) -> "_Heartbeat":
        if self.notices:
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(max(0.2, self.visibility / 3)):
            for start in range(0, len(self.notices), RECEIVE_BATCH):
                entries = [{"Id": str(i), "ReceiptHandle": n.receipt, "VisibilityTimeout": self.visibility}
                           for i, n in enumerate(self.notices[start:start + RECEIVE_BATCH])]
                try:
                    self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
                    self.extended += 1
                except Exception:  # a missed beat only risks a redelivery, which is idempotent
                    pass

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)


def sqs_client(session: Any, queue_url: str) -> Any:
    """An SQS client talking to the queue URL's own endpoint and region."""
    without_login(queue_url, "--sqs-queue", http_only=False)  # the shape is checked below, with SQS's example
    parts = urlsplit(queue_url)
    if not parts.scheme or not parts.netloc:
        raise CtstackError(f"{queue_url!r} is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME).")
    host = parts.hostname or ""
    region = host.split(".")[1] if host.startswith("sqs.") and host.count(".") >= 3 else session.region_name or "us-east-1"
    return session.client("sqs", region_name=region, endpoint_url=f"{parts.scheme}://{parts.netloc}")


@dataclass
class QueueSummary:
    batches: int = 0
    totals: dict[str, Any] = field(default_factory=dict)
    failed_messages: list[dict] = field(default_factory=list)   # the last MAX_REPORTED: {message_id, receive_count, reason, poison}
    stopped_by: int | None = None
    dead_letter: str | None = None
    last_state: str = OK

    @property
    def ok(self) -> bool:
        """No message was kept for its content or objects (poison), and Elasticsearch was
        available at the end (messages kept during an outage come back and are retried)."""
        return not self.totals.get("messages_poison") and self.last_state == OK

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "ok": self.ok, "stopped_by_signal": self.stopped_by, "dead_letter": self.dead_letter,
                "totals": self.totals, "failed_messages": self.failed_messages}


class QueueConsumer:
    """Receive, import and delete, batch after batch, until stopped (or, with
    ``exit_when_empty``, until the queue holds no message, visible or in flight).

    S3 is read as ``s3_options`` say (:class:`~provision.sources.s3options.S3Options`: profile,
    endpoint_url, workers, session); each batch imports with ``options``
    (:class:`~provision.ingest.options.ImportOptions`; keyword ``changes`` to them are accepted too). ``on_batch(report)`` gets each batch's report.
    """

    def __init__(self, es: Elasticsearch, queue_url: str, filters: S3Filters | None = None, *,
                 options: ImportOptions | None = None, s3_options: S3Options | dict[str, Any] | None = None,
                 stop: StopSwitch | None = None, on_batch: Callable[[dict[str, Any]], None] | None = None,
                 wait_seconds: int = LONG_POLL_SECONDS, visibility_timeout: int | None = None,
                 exit_when_empty: bool = False, batch_messages: int = BATCH_MESSAGES, **changes: Any) -> None:
        from provision.sources.s3access import aws_session

        s3 = S3Options.of(s3_options)
        s3 = s3.but(session=s3.session or aws_session(s3.profile))
        self.es = es
        self.queue_url = queue_url
        self.filters = filters or S3Filters()
        self.sqs = sqs_client(s3.session, queue_url)
        self.objects = _NotifiedObjects.with_options([], s3)
        self.stop = stop or StopSwitch()
        self.on_batch = on_batch
        self.wait_seconds = wait_seconds
        self.visibility = visibility_timeout or self._queue_visibility()
        self.exit_when_empty = exit_when_empty
        self.batch_messages = batch_messages
        self.import_options, self.dead_letter = options_for_many_runs(ImportOptions.of(options, **changes))
        self.index_prefix = self.import_options.index_prefix
        self.summary = QueueSummary()
        self._installed = False

    def _queue_attribute(self, *names: str) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=list(names))["Attributes"]
        except (ClientError, BotoCoreError) as err:
            raise CtstackError(f"Cannot use the SQS queue {self.queue_url} ({err}); the identity needs sqs:GetQueueAttributes, "
                               "sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on it.") from None

    def _queue_visibility(self) -> int:
        return int(self._queue_attribute("VisibilityTimeout").get("VisibilityTimeout", 30))

    def _queue_drained(self) -> bool:
        names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")
        attributes = self._queue_attribute(*names)
        return all(int(attributes.get(n, 0)) == 0 for n in names)

    def _receive(self, wait_seconds: int) -> list[dict]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=RECEIVE_BATCH, WaitTimeSeconds=wait_seconds,
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        except (ClientError, BotoCoreError) as err:
            raise CtstackError(f"Cannot receive from the SQS queue {self.queue_url} ({err}).") from None

    def receive(self) -> list[Notice]:
        """Up to ``batch_messages`` messages: one long poll, then, while the queue keeps
        giving full answers, more without waiting (one import and one delete call for many
        messages instead of one each per 10)."""
        messages = self._receive(self.wait_seconds)
        while len(messages) < self.batch_messages and len(messages) % RECEIVE_BATCH == 0 and messages:
            more = self._receive(0)
            if not more:
                break
            messages += more
        notices = []
        for message in messages:
            notice = Notice(message["MessageId"], message["ReceiptHandle"], int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)))
            try:
                notice.objects, notice.skipped = parse_notification(message.get("Body", ""), self.filters)
            except NotANotification as err:
                notice.error = str(err)
            notices.append(notice)
        return notices

    def run_batch(self, notices: list[Notice]) -> dict[str, Any]:
        """Import the objects of ``notices``, delete the messages that are fully done, report."""
        started = time.monotonic()
        self.summary.batches += 1
        report: dict[str, Any] = {"batch": self.summary.batches, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  "messages": len(notices), "objects_skipped": sum(len(n.skipped) for n in notices)}
        wanted: dict[tuple[str, str], S3Object] = {}
        for notice in notices:
            for obj in notice.objects:
                wanted.setdefault((obj.bucket, obj.key), obj)
        problems: dict[tuple[str | None, str | None], str | None] = {}   # object -> None (done) or why not

        def on_file_done(file: Any, outcome: Any) -> None:
            meta = file.meta or {}
            skipped = outcome.skipped_reason or ""
            problem = outcome.failed_reason or (f"unreadable object: {skipped}" if skipped.startswith(POISON_SKIPS) else None)
            problems[(meta.get("bucket"), meta.get("key"))] = problem

        summary = None
        outage: str | None = None
        before = dict(self.objects.stats)
        if wanted:
            self.objects.batch = list(wanted.values())
            # Every message the batch holds, also those with nothing to import: they are deleted
            # at its end, and one that reappeared meanwhile would be handled twice.
            with _Heartbeat(self.sqs, self.queue_url, notices, self.visibility):
                files = self.objects.files()
                try:
                    summary = run_import(self.es, files, self.import_options.but(install=not self._installed,
                                                                                 on_file_done=on_file_done))
                    self._installed = True
                except (TransportError, ApiError) as err:  # installing the template: Elasticsearch is away
                    if es_available(self.es):
                        raise CtstackError(describe_error(err, EsConfig(url=es_url(self.es)))) from None
                    outage = describe_error(err, EsConfig(url=es_url(self.es)))
                finally:
                    files.close()
        done, kept = [], []
        for notice in notices:
            keys = [(o.bucket, o.key) for o in notice.objects]
            problem = notice.error or next((problems[k] for k in keys if problems.get(k)), None)
            reason = problem
            if reason is None and any(k not in problems for k in keys):
                reason = f"not imported: {outage or (summary.aborted if summary and summary.aborted else 'stopped before the end')}"
            if reason:
                poison = problem is not None  # its objects or the message itself; not an outage
                kept.append({"message_id": notice.message_id, "receive_count": notice.receive_count, "reason": reason, "poison": poison})
            else:
                done.append(notice)
        deleted = self._delete(done)
        state = ES_UNAVAILABLE if outage else OK
        if outage:
            report["error"] = outage
        if summary is not None:
            add_counts(report, summary)
            add_counts(self.summary.totals, summary)
            if summary.dead_letter:
                self.summary.dead_letter = summary.dead_letter
            if summary.aborted:
                state = ES_UNAVAILABLE  # it stopped answering mid-batch
                report["error"] = summary.aborted
        for name in ("objects_downloaded", "bytes_downloaded"):
            report[name] = self.objects.stats[name] - before[name]
        report.update(state=state, messages_deleted=deleted, messages_not_deleted=len(kept),
                      messages_poison=sum(1 for k in kept if k["poison"]),
                      messages_skipped=sum(1 for n in done if not n.objects),
                      failed_messages=kept[:MAX_REPORTED])
        self.summary.failed_messages = (self.summary.failed_messages + kept)[-MAX_REPORTED:]
        for name in ("messages", "messages_deleted", "messages_not_deleted", "messages_poison", "messages_skipped", "objects_skipped",
                     "objects_downloaded", "bytes_downloaded"):
            self.summary.totals[name] = self.summary.totals.get(name, 0) + report[name]
        newest = newest_event_time(self.es, self.index_prefix) if summary is not None else None
        report["newest_event"] = newest.isoformat(timespec="seconds") if newest else None
        report["lag_seconds"] = lag_seconds(newest)
        report["seconds"] = round(time.monotonic() - started, 3)
        self.summary.last_state = state
        return report

    def _delete(self, notices: list[Notice]) -> int:
        """Delete the messages; the number deleted (one whose receipt expired is not, and
        comes back: its events are already present)."""
        from botocore.exceptions import BotoCoreError, ClientError

        deleted = 0
        for start in range(0, len(notices), RECEIVE_BATCH):
            entries = [{"Id": str(i), "ReceiptHandle": n.receipt} for i, n in enumerate(notices[start:start + RECEIVE_BATCH])]
            try:
                response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as err:
                raise CtstackError(f"Cannot delete messages from the SQS queue {self.queue_url} ({err}); "
                                   "the identity needs sqs:DeleteMessage (the messages come back and are imported again, never doubled).") from None
            deleted += len(response.get("Successful", []))
        return deleted

    def run(self) -> QueueSummary:
        try:
            outages = 0
            while not self.stop.is_set():
                if outages and not es_available(self.es):
                    self.summary.last_state = ES_UNAVAILABLE
                    outages += 1
                    if self.stop.wait(backoff(outages)):
                        break
                    continue
                notices = self.receive()
                if not notices:
                    if self.exit_when_empty and self._queue_drained():
                        break
                    continue
                report = self.run_batch(notices)
                outages = outages + 1 if report["state"] == ES_UNAVAILABLE else 0
                if self.on_batch:
                    self.on_batch(report)
                if outages and self.stop.wait(backoff(outages)):
                    break
            self.summary.stopped_by = self.stop.signal
        finally:
            self.close()
        return self.summary

    def close(self) -> None:
        """Let go of the download pool and close the dead-letter file (removed if nothing failed)."""
        self.objects.close()
        self.dead_letter.close()


def consume(cfg: EsConfig, queue_url: str, filters: S3Filters | None = None, **options: Any) -> QueueSummary:
    """Connect (one clear error if Elasticsearch is unreachable at the start), then consume
    the queue until stopped; ``options`` are :class:`QueueConsumer`'s."""
    with connected(cfg) as es:
        return QueueConsumer(es, queue_url, filters, **options).run()
