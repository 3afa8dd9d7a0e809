"""The demo organisation: four accounts (one delivered through an organisation trail), their
regions, the people and workloads that act in them (IAM users, SSO roles, CI, services), and
the small seeded id makers every generated value uses. Deterministic: everything here draws
from the one ``random.Random`` :mod:`provision.demo.generate` passes in."""

from __future__ import annotations

import random
from dataclasses import dataclass, field



ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64 = ALNUM + "+/"


def random_uuid(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def random_chars(rng: random.Random, n: int, alphabet: str = UPPER_ALNUM) -> str:
    return "".join(rng.choices(alphabet, k=n))


def random_hex(rng: random.Random, n: int) -> str:
    return "%0*x" % (n, rng.getrandbits(4 * n))


def random_ipv4(rng: random.Random, first_octets: tuple[int, ...]) -> str:
    return f"{rng.choice(first_octets)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"



@dataclass
class Account:
    id: str
    name: str
    org_trail: bool                       # delivered under AWSLogs/<org-id>/<account>/...
    regions: dict[str, float]             # region -> mean events per 5-minute window
    instances: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    kms_keys: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


_ACCOUNT_PLAN = (
    # id, name, org trail?, {region: mean events per window}
    ("480722931458", "prod", False, {"us-east-1": 150.0, "eu-west-1": 60.0, "us-west-2": 0.6, "ap-northeast-1": 0.4}),
    ("739512046281", "staging", False, {"eu-west-1": 40.0, "us-east-1": 15.0, "eu-central-1": 0.5}),
    ("215804667390", "dev", False, {"us-west-2": 30.0, "us-east-1": 10.0, "ap-southeast-2": 0.3}),
    ("902318475566", "security", True, {"ap-northeast-1": 20.0, "us-east-1": 25.0, "eu-west-1": 0.5, "sa-east-1": 0.3}),
)
# A security scanner sweeps the production account's busiest region every day at 07:00 UTC
# (and, now and then, any busy region): thousands of Describe/List/Get calls in one file.
SCAN_HOUR = 7
BURST_PROBABILITY = 0.0015      # per busy (account, region) window, besides the daily scan
BURST_EVENTS = (1500, 6000)

PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank")
SSO_ROLE = "AWSReservedSSO_AdministratorAccess_3f2a1b9c8d7e6f50"
SSO_READONLY_ROLE = "AWSReservedSSO_ReadOnlyAccess_a91c04be27d3f816"
EMAIL_DOMAIN = "acme-corp.example"

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.80",
)
CONSOLE_AGENTS = ("console.amazonaws.com", "AWS Internal")
S3_CONSOLE_AGENT = (
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.228-198.884.amzn2int.x86_64 "
    "OpenJDK_64-Bit_Server_VM/25.432-b06 java/1.8.0_432 vendor/Oracle_Corporation cfg/retry-mode/standard]"
)
AWS_NETS = (3, 18, 34, 35, 44, 52, 54, 98)


def office_ip(rng: random.Random) -> str:
    # documentation ranges (RFC 5737): shaped like an office's public address, owned by no one
    return rng.choice(("198.51.100.", "203.0.113.", "192.0.2.")) + str(rng.randrange(2, 254))


def cli_agent(rng: random.Random, service: str, name: str) -> str:
    version = rng.choice(("2.15.0", "2.17.44", "2.22.8"))
    os_ = rng.choice(("linux#6.5.0-1022-aws", "macos#23.6.0", "linux#5.15.0-126-generic"))
    command = f"{service}.{_kebab(name)}"
    return (f"aws-cli/{version} md/awscrt#0.22.0 ua/2.0 os/{os_} md/arch#x86_64 lang/python#3.11.6 "
            f"md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{command}")


def _kebab(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("-")
        out.append(ch.lower())
    return "".join(out)


BOTO3 = ("Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.227-219.884.amzn2.x86_64 md/arch#x86_64 "
          "lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.36")
TERRAFORM = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.82.2 "
              "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux "
              "lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64")
_GO_AGENT = "aws-sdk-go/1.55.5 (go1.22.7; linux; amd64) amazon-ssm-agent/3.3.1611.0"
_JAVA_AGENT = ("aws-sdk-java/2.30.21 md/io#async md/http#NettyNio ua/2.1 os/Linux#5.10.234-225.895.amzn2.x86_64 "
               "lang/java#17.0.14 md/OpenJDK_64-Bit_Server_VM#17.0.14+7-LTS md/vendor#Amazon.com_Inc. md/en_US m/E")
_SCANNER_AGENT = "aws-sdk-go-v2/1.32.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.187.0 prowler/4.6.1"


@dataclass
class Actor:
    """Someone or something that calls AWS: builds its userIdentity, agent and source address."""

    kind: str                    # "cli" | "sdk" | "terraform" | "workload" | "scanner" | "console" | "root"
    account: Account
    identity: dict
    principal: str               # a short name (for session ids)
    person: str | None = None
    agent: str | None = None     # fixed user agent, if any
    ip: str | None = None        # fixed source address, if any
    mfa: bool = False


def _iam_user(rng: random.Random, account: Account, name: str, with_key: bool) -> dict:
    identity = {
        "type": "IAMUser",
        "principalId": "AIDA" + random_chars(rng, 17),
        "arn": f"arn:aws:iam::{account.id}:user/{name}",
        "accountId": account.id,
    }
    if with_key:
        identity["accessKeyId"] = "AKIA" + random_chars(rng, 16)
    identity["userName"] = name
    return identity


def assumed_role(rng: random.Random, account: Account, role: str, session: str, *, invoked_by: str | None = None,
                  mfa: bool = False, created: str = "2025-03-03T00:00:00Z") -> dict:
    role_id = "AROA" + random_chars(rng, 17)
    identity = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account.id}:assumed-role/{role}/{session}",
        "accountId": account.id,
        "accessKeyId": "ASIA" + random_chars(rng, 16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account.id}:role/{'aws-reserved/sso.amazonaws.com/' if role.startswith('AWSReservedSSO') else ''}{role}",
                "accountId": account.id,
                "userName": role,
            },
            "attributes": {"creationDate": created, "mfaAuthenticated": "true" if mfa else "false"},
        },
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def build_accounts(rng: random.Random) -> list[Account]:
    accounts = []
    for account_id, name, org, regions in _ACCOUNT_PLAN:
        a = Account(account_id, name, org, dict(regions))
        a.instances = ["i-" + random_hex(rng, 17) for _ in range(24)]
        a.buckets = [f"acme-{name}-{suffix}" for suffix in ("assets", "backups", "logs", "artifacts", "data-lake", "static-site")]
        a.roles = [f"{name}-{r}" for r in ("web-app", "batch-jobs", "eks-node", "lambda-exec", "ci-deploy", "readonly-audit")]
        a.security_groups = ["sg-" + random_hex(rng, 17) for _ in range(8)]
        a.volumes = ["vol-" + random_hex(rng, 17) for _ in range(16)]
        a.kms_keys = [random_uuid(rng) for _ in range(4)]
        a.functions = [f"{name}-{f}" for f in ("thumbnailer", "order-events", "nightly-report", "slack-notifier")]
        a.log_groups = [f"/aws/lambda/{f}" for f in a.functions] + [f"/ecs/{name}-api", f"/{name}/app"]
        a.parameters = [f"/{name}/{p}" for p in ("db/host", "db/password", "api/token", "feature-flags", "app/config")]
        a.secrets = [f"{name}/{s}" for s in ("rds-master", "stripe-key", "github-token")]
        a.tables = [f"{name}-{t}" for t in ("orders", "sessions", "users")]
        accounts.append(a)
    return accounts


def build_actors(rng: random.Random, accounts: list[Account]) -> dict[str, list[Actor]]:
    """Actors by kind, across all accounts (each actor belongs to one account)."""
    by_kind: dict[str, list[Actor]] = {}

    def add(actor: Actor) -> None:
        by_kind.setdefault(actor.kind, []).append(actor)

    for a in accounts:
        ci_ip = random_ipv4(rng, AWS_NETS)
        add(Actor("terraform", a, assumed_role(rng, a, a.roles[4], f"terraform-{random_hex(rng, 8)}"), "terraform", agent=TERRAFORM, ip=ci_ip))
        add(Actor("sdk", a, _iam_user(rng, a, "backup-bot", True), "backup-bot", agent=BOTO3, ip=random_ipv4(rng, AWS_NETS)))
        add(Actor("sdk", a, _iam_user(rng, a, "metrics-exporter", True), "metrics-exporter", agent=_JAVA_AGENT, ip=random_ipv4(rng, AWS_NETS)))
        for person in PEOPLE[:3]:
            add(Actor("cli", a, assumed_role(rng, a, SSO_ROLE, f"{person}@{EMAIL_DOMAIN}"), person, person=person))
        for instance in a.instances[:4]:
            add(Actor("workload", a, assumed_role(rng, a, a.roles[2], instance, invoked_by=None), instance, agent=_GO_AGENT, ip=random_ipv4(rng, AWS_NETS)))
        add(Actor("workload", a, assumed_role(rng, a, a.roles[3], a.functions[0]), a.functions[0], agent=BOTO3, ip=random_ipv4(rng, AWS_NETS)))
        add(Actor("workload", a, assumed_role(rng, a, a.roles[0], "botocore-session-" + str(rng.randrange(10**9, 10**10))), "web-app", agent=_JAVA_AGENT, ip=random_ipv4(rng, AWS_NETS)))
        add(Actor("scanner", a, assumed_role(rng, a, a.roles[5], "prowler-" + random_hex(rng, 12)), "scanner", agent=_SCANNER_AGENT, ip=random_ipv4(rng, AWS_NETS)))
        for person in PEOPLE:
            role = SSO_ROLE if person in PEOPLE[:4] else SSO_READONLY_ROLE
            add(Actor("console", a, assumed_role(rng, a, role, f"{person}@{EMAIL_DOMAIN}", mfa=True), person, person=person, mfa=True))
        ops = _iam_user(rng, a, "ops-admin", False)
        add(Actor("console", a, ops, "ops-admin", person="ops-admin", mfa=True))
        add(Actor("root", a, {"type": "Root", "principalId": a.id, "arn": f"arn:aws:iam::{a.id}:root", "accountId": a.id}, "root", person="root"))
    return by_kind
