"""A seeded generator of realistic CloudTrail logs in the layout CloudTrail writes to S3.

Used by ``ctstack up --sample`` (a small deterministic demo set) and by the benchmark
(``bench/generate.py``, a million events). Field shapes, sizes and value styles follow
real published events (../shared/data/cloudtrail: stratus-red-team, cloud-snitch) and
AWS's documentation of the log and digest files.

The mix is what a small AWS organisation produces: mostly programmatic, read-only calls
(SDKs, the CLI, Terraform, workload roles, AWS services), some console activity (sign-ins,
console reads, and a handful of console write actions several people repeat by hand: the
automation candidates ctstack exists to find), a few per cent of errors, four accounts
(one delivered through an organisation trail), several real regions, and CloudTrail
digest files that an importer must skip.

Files follow CloudTrail's delivery: one file per account, region and 5-minute window, so
quiet regions give many tiny files and busy ones bigger files; now and then a scanner
burst gives a file of thousands of events.

Deterministic: the same seed and arguments give byte-identical files (one
``random.Random(seed)``, compact orjson, gzip with ``mtime=0``). Streaming: at most one
file's records are in memory at a time.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from provision.demo.actions import (CONSOLE_READS, CONSOLE_WRITES, KIND_WEIGHTS_DAY, KIND_WEIGHTS_NIGHT, PROGRAMMATIC_READS,
                                    PROGRAMMATIC_WRITES, SERVICE_CALLS, SERVICE_EVENTS, SIGN_IN, Action, everywhere, Picker,
                                    regional)
from provision.demo.delivery import TRAIL_BUCKET, digest_file_key, DigestLog, gzip_bytes, log_file_key
from provision.demo.organisation import (ALNUM, AWS_NETS, BOTO3, BROWSERS, BURST_EVENTS, BURST_PROBABILITY, CONSOLE_AGENTS,
                                         S3_CONSOLE_AGENT, SCAN_HOUR, SSO_READONLY_ROLE, Account, Actor, build_accounts,
                                         build_actors, cli_agent, office_ip, random_chars, random_hex, random_ipv4, random_uuid)

# What `ctstack up --sample` loads: big enough for a lively dashboard, small enough to import in seconds.
SAMPLE_EVENTS = 20_000
SAMPLE_SEED = 0

DEFAULT_START = datetime(2025, 3, 3, 6, 0, tzinfo=timezone.utc)   # a Monday morning
WINDOW_SECONDS = 300          # CloudTrail delivers about every 5 minutes per account and region
DIGEST_EVERY_HOURS = 6        # real trails write one digest an hour; a few are enough to test skipping


@dataclass
class GenerateStats:
    """What :func:`write_sample` wrote."""

    events: int = 0
    files: int = 0                       # CloudTrail log files (each `{"Records": [...]}`)
    digest_files: int = 0                # CloudTrail-Digest files (no events; importers skip them)
    compressed_bytes: int = 0
    uncompressed_bytes: int = 0
    largest_file_events: int = 0
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    first_event_time: str = ""
    last_event_time: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)



_THROTTLE = ("ThrottlingException", "Rate exceeded")
CONSOLE_HOST = {"ec2": "ec2.{r}.amazonaws.com", "iam": "iam.amazonaws.com", "sts": "sts.{r}.amazonaws.com",
                 "signin": "signin.aws.amazon.com", "s3": "s3.{r}.amazonaws.com", "monitoring": "monitoring.{r}.amazonaws.com"}


class _Generator:
    def __init__(self, seed: int, start: datetime):
        self.rng = random.Random(seed)
        rng = self.rng
        self.accounts = build_accounts(rng)
        self.actors = build_actors(rng, self.accounts)
        self.actors_by_account: dict[tuple[str, str], list[Actor]] = {}
        for kind, actors in self.actors.items():
            for actor in actors:
                self.actors_by_account.setdefault((actor.account.id, kind), []).append(actor)
        self.start = start
        self.picks = {
            ("programmatic_read", False): regional(PROGRAMMATIC_READS), ("programmatic_read", True): everywhere(PROGRAMMATIC_READS),
            ("programmatic_write", False): regional(PROGRAMMATIC_WRITES), ("programmatic_write", True): everywhere(PROGRAMMATIC_WRITES),
            ("console_read", False): regional(CONSOLE_READS), ("console_read", True): everywhere(CONSOLE_READS),
            ("console_write", False): regional(CONSOLE_WRITES), ("console_write", True): everywhere(CONSOLE_WRITES),
        }
        self.service_calls = Picker([(a, by) for a, by, _ in SERVICE_CALLS], [w for *_, w in SERVICE_CALLS])
        self.service_events = everywhere(SERVICE_EVENTS)
        kinds = list(KIND_WEIGHTS_DAY)
        self.kind_day = Picker(kinds, [KIND_WEIGHTS_DAY[k] for k in kinds])
        self.kind_night = Picker(kinds, [KIND_WEIGHTS_NIGHT[k] for k in kinds])
        self.vpc_endpoints = {a.id: "vpce-" + random_hex(rng, 17) for a in self.accounts}
        self._time_cache: tuple[int, list[str]] = (-1, [])

    # times -----------------------------------------------------------------------------
    def window_times(self, window: int) -> list[str]:
        """eventTime strings for each second of a window (cached: formatting is the slow part)."""
        if self._time_cache[0] != window:
            base = self.start + timedelta(seconds=window * WINDOW_SECONDS)
            self._time_cache = (window, [(base + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in range(WINDOW_SECONDS)])
        return self._time_cache[1]

    # one event -------------------------------------------------------------------------
    def event(self, account: Account, region: str, when: str, kind: str) -> dict:
        rng = self.rng
        us_east_1 = region == "us-east-1"
        invoked_by = None
        event_type = "AwsApiCall"
        console = False
        if kind == "service_call":
            action, invoked_by = self.service_calls(rng)
            actor = None
        elif kind == "service_event":
            action = self.service_events(rng)
            event_type = "AwsServiceEvent"
            actor = None
        elif kind == "sign_in":
            if not us_east_1:
                return self.event(account, region, when, "console_read")
            action = SIGN_IN["SwitchRole" if rng.random() < 0.25 else "ConsoleLogin"]
            event_type = "AwsConsoleSignIn"
            people = self.actors_by_account[(account.id, "console")]
            actor = people[-1] if action.name == "SwitchRole" else (
                self.actors_by_account[(account.id, "root")][0] if rng.random() < 0.03 else rng.choice(people))
        elif kind in ("console_read", "console_write"):
            action = self.picks[(kind, us_east_1)](rng)
            actor = rng.choice(self.actors_by_account[(account.id, "console")])
            if kind == "console_write" and actor.identity.get("sessionContext", {}).get("sessionIssuer", {}).get("userName") == SSO_READONLY_ROLE:
                actor = self.actors_by_account[(account.id, "console")][0]
            console = True
        elif kind == "cli_read":
            action = self.picks[("programmatic_read", us_east_1)](rng)
            actor = rng.choice(self.actors_by_account[(account.id, "cli")])
        else:
            action = self.picks[(kind, us_east_1)](rng)
            pool = ("sdk", "workload", "terraform") if kind == "programmatic_read" else ("workload", "workload", "terraform", "sdk")
            actor = rng.choice(self.actors_by_account[(account.id, rng.choice(pool))])
        return self._assemble(account, region, when, action, actor, invoked_by, event_type, console)

    def scanner_event(self, account: Account, region: str, when: str) -> dict:
        action = self.picks[("programmatic_read", region == "us-east-1")](self.rng)
        actor = self.actors_by_account[(account.id, "scanner")][0]
        return self._assemble(account, region, when, action, actor, None, "AwsApiCall", False)

    def _assemble(self, account: Account, region: str, when: str, action: Action, actor: Actor | None,
                  invoked_by: str | None, event_type: str, console: bool) -> dict:
        rng = self.rng
        service = action.source.split(".", 1)[0]
        params, response, resources, extra = action.build(rng, account, region)
        if actor is None:   # an AWS service
            identity = {"type": "AWSService", "invokedBy": invoked_by} if invoked_by else {"accountId": account.id, "invokedBy": action.source}
            source_ip = agent = invoked_by or action.source
        else:
            identity = actor.identity
            if event_type == "AwsConsoleSignIn" or console:
                source_ip = office_ip(rng) if rng.random() < 0.9 else "AWS Internal"
                if event_type == "AwsConsoleSignIn" or service in ("ssm", "monitoring"):
                    agent = rng.choice(BROWSERS)
                elif service == "s3":
                    agent = S3_CONSOLE_AGENT
                elif service == "ec2" and rng.random() < 0.4:
                    agent = "console.ec2.amazonaws.com"
                elif rng.random() < 0.3:
                    agent = rng.choice(CONSOLE_AGENTS)
                else:
                    agent = rng.choice(BROWSERS)
            elif actor.kind == "cli":
                source_ip = office_ip(rng)
                agent = cli_agent(rng, service, action.name)
            else:
                source_ip = actor.ip or random_ipv4(rng, AWS_NETS)
                agent = actor.agent or BOTO3
        error: tuple[str | None, str] | None = None
        roll = rng.random()
        if event_type == "AwsApiCall":
            if actor is not None and actor.kind in ("console", "root") and not action.read_only and roll < 0.04:
                error = ("Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: "
                         f"{identity.get('arn')} is not authorized to perform: {service}:{action.name} because no "
                         "identity-based policy allows the action.") if service == "ec2" else (
                    "AccessDenied", f"User: {identity.get('arn')} is not authorized to perform: {service}:{action.name} "
                    "with an explicit deny in a service control policy")
            elif actor is not None and action.read_only and roll < 0.02:
                error = _THROTTLE
            elif actor is not None and roll < 0.025:
                error = ("AccessDenied", f"User: {identity.get('arn')} is not authorized to perform: {service}:{action.name} "
                         "because no identity-based policy allows the action")
        elif action.name == "ConsoleLogin" and roll < 0.05:
            error = (None, "Failed authentication")
            response = {"ConsoleLogin": "Failure"}

        event: dict = {
            "eventVersion": action.version,
            "userIdentity": identity,
            "eventTime": when,
            "eventSource": action.source,
            "eventName": action.name,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": agent,
        }
        if error:
            if error[0]:
                event["errorCode"] = error[0]
            event["errorMessage"] = error[1]
            if error[0]:
                response = None
        event["requestParameters"] = params
        event["responseElements"] = response
        if extra is not None:
            event["additionalEventData"] = extra
        if event_type != "AwsConsoleSignIn":
            event["requestID"] = random_chars(rng, 16) if service == "s3" else random_uuid(rng)
        event["eventID"] = random_uuid(rng)
        event["readOnly"] = action.read_only
        if resources is not None:
            event["resources"] = resources
        event["eventType"] = event_type
        event["managementEvent"] = True
        event["recipientAccountId"] = account.id
        if actor is None:
            event["sharedEventID"] = random_uuid(rng)
        elif actor.kind == "workload" and rng.random() < 0.1:
            event["vpcEndpointId"] = self.vpc_endpoints[account.id]
            event["vpcEndpointAccountId"] = account.id
        event["eventCategory"] = "Management"
        if actor is not None:
            host = CONSOLE_HOST.get(service, "{s}.{r}.amazonaws.com").format(s=service, r=region)
            event["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}
        if event_type == "AwsServiceEvent":
            event["serviceEventDetails"] = ({"keyId": resources[0]["ARN"].rsplit("/", 1)[1]} if action.name == "RotateKey" and resources
                                            else {"secretId": f"arn:aws:secretsmanager:{region}:{account.id}:secret:{account.secrets[0]}"})
        if console and event_type == "AwsApiCall":
            event["sessionCredentialFromConsole"] = "true"
        return event


def demo_start(now: datetime | None = None) -> datetime:
    """Where `ctstack up --sample` starts its demo data: 06:00 UTC on the last Monday before
    today. Recent enough for the dashboard's default time range, and the same all week, so
    re-running `up` rewrites identical files (whose events are then already present)."""
    now = now or datetime.now(timezone.utc)
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() or 7)
    return monday.replace(hour=6)


def write_sample(dest_dir: str | Path, *, events: int = SAMPLE_EVENTS, seed: int = SAMPLE_SEED, start: datetime = DEFAULT_START,
                 digests: bool = True) -> GenerateStats:
    """Write ``events`` CloudTrail events under ``dest_dir`` in CloudTrail's S3 layout.

    ``dest_dir/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random16>.json.gz``
    (one account under ``AWSLogs/<org-id>/`` as an organisation trail writes it), plus, with
    ``digests``, a few ``CloudTrail-Digest`` files. The same arguments give the same bytes,
    so writing the demo set again (``write_sample(dir)``) rewrites identical files.
    """
    if events < 0:
        raise ValueError("events must be >= 0")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    gen = _Generator(seed, start)
    rng = gen.rng
    stats = GenerateStats(accounts=[a.id for a in gen.accounts],
                          regions=sorted({r for a in gen.accounts for r in a.regions}))
    made_dirs: set[Path] = set()
    digest_logs: dict[tuple[str, str], DigestLog] = {}
    busiest = {(a.id, max(a.regions, key=lambda r: a.regions[r])) for a in gen.accounts}   # where digest files are written

    def write(key: str, payload: bytes) -> int:
        path = dest / key
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        data = gzip_bytes(payload)
        path.write_bytes(data)
        return len(data)

    def write_digests(end: datetime, hour_start: datetime) -> None:
        for account in gen.accounts:
            for region in account.regions:
                if (account.id, region) not in busiest:
                    continue
                log = digest_logs.setdefault((account.id, region), DigestLog())
                key = digest_file_key(account, region, end)
                previous = log.previous
                body = {
                    "awsAccountId": account.id,
                    "digestStartTime": hour_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "digestEndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "digestS3Bucket": TRAIL_BUCKET,
                    "digestS3Object": key,
                    "digestPublicKeyFingerprint": random_hex(rng, 32),
                    "digestSignatureAlgorithm": "SHA256withRSA",
                    "newestEventTime": log.files[-1]["newestEventTime"] if log.files else None,
                    "oldestEventTime": log.files[0]["oldestEventTime"] if log.files else None,
                    "previousDigestS3Bucket": TRAIL_BUCKET if previous else None,
                    "previousDigestS3Object": previous[0] if previous else None,
                    "previousDigestHashValue": previous[1] if previous else None,
                    "previousDigestHashAlgorithm": "SHA-256" if previous else None,
                    "previousDigestSignature": random_hex(rng, 512) if previous else None,
                    "logFiles": log.files,
                }
                payload = orjson.dumps(body)
                stats.compressed_bytes += write(key, payload)
                stats.digest_files += 1
                log.previous = (key, hashlib.sha256(payload).hexdigest())
                log.files = []

    remaining = events
    window = 0
    while remaining > 0:
        window_start = start + timedelta(seconds=window * WINDOW_SECONDS)
        delivered = window_start + timedelta(seconds=WINDOW_SECONDS + rng.randrange(0, 60))
        hour = window_start.hour
        day_time = 7 <= hour < 19 and window_start.weekday() < 5
        kind_pick = gen.kind_day if day_time else gen.kind_night
        times = gen.window_times(window)
        for account in gen.accounts:
            for region, mean in account.regions.items():
                if remaining <= 0:
                    break
                burst = 0
                if mean < 1:
                    count = rng.randrange(1, 5) if rng.random() < mean else 0
                else:
                    scale = 1.0 if day_time else 0.45
                    count = int(rng.lognormvariate(math.log(mean * scale) - 0.32, 0.8))
                    daily_scan = hour == SCAN_HOUR and window_start.minute == 0 and account is gen.accounts[0] and (account.id, region) in busiest
                    if daily_scan or rng.random() < BURST_PROBABILITY:
                        burst = rng.randrange(*BURST_EVENTS)
                count = min(count + burst, remaining)
                if count <= 0:
                    continue
                seconds = sorted(rng.randrange(WINDOW_SECONDS) for _ in range(count))
                records = []
                for i, second in enumerate(seconds):
                    when = times[second]
                    # a burst's events interleave with the ordinary traffic of the window
                    if burst and rng.random() < burst / count:
                        records.append(gen.scanner_event(account, region, when))
                    else:
                        records.append(gen.event(account, region, when, kind_pick(rng)))
                payload = orjson.dumps({"Records": records})
                key = log_file_key(account, region, delivered, random_chars(rng, 16, ALNUM))
                stats.compressed_bytes += write(key, payload)
                stats.uncompressed_bytes += len(payload)
                stats.files += 1
                stats.events += count
                stats.largest_file_events = max(stats.largest_file_events, count)
                if not stats.first_event_time:
                    stats.first_event_time = records[0]["eventTime"]
                stats.last_event_time = max(stats.last_event_time, records[-1]["eventTime"])
                remaining -= count
                if digests and (account.id, region) in busiest:
                    digest_logs.setdefault((account.id, region), DigestLog()).files.append({
                        "s3Bucket": TRAIL_BUCKET, "s3Object": key, "hashValue": hashlib.sha256(payload).hexdigest(),
                        "hashAlgorithm": "SHA-256", "newestEventTime": records[-1]["eventTime"],
                        "oldestEventTime": records[0]["eventTime"]})
        window += 1
        window_end = start + timedelta(seconds=window * WINDOW_SECONDS)
        if digests and window_end.minute == 0:
            hours_in = int((window_end - start).total_seconds()) // 3600
            if hours_in % DIGEST_EVERY_HOURS == 1 % DIGEST_EVERY_HOURS:
                write_digests(window_end, window_end - timedelta(hours=1))
            else:
                for log in digest_logs.values():
                    log.files = []
    if digests and stats.digest_files == 0 and events > 0:
        end = start + timedelta(seconds=window * WINDOW_SECONDS)
        write_digests(end, end - timedelta(hours=1))
    return stats
