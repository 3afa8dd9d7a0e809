"""90 days of recurring console work for the demo set, with the look-alikes that must not count.

:func:`provision.demo.generate.write_sample` writes one morning of a busy organisation's trail;
this adds, in the same layout and accounts, what people did by hand in the console over the
:data:`DAYS` before it, with the requestParameters and responseElements real calls log:

- alice, every Monday: a security group for a new web service (CreateSecurityGroup, then
  AuthorizeSecurityGroupIngress for 443 on the new group, then CreateTags on it);
- bob, every working day: a snapshot of a volume, then CreateTags on the new snapshot;
- carol, now and then: a new developer (CreateUser, AddUserToGroup, CreateLoginProfile);
- dave, now and then: a new bucket (CreateBucket, PutPublicAccessBlock, PutBucketTagging);
- console reads around each of them (the read-only noise of a console session);
- drift: a CloudFormation stack (``shop-web``: a security group, a bucket, a role) and a
  Terraform workspace (a security group, a role, a bucket) whose resources people later change
  in the console: erin opens SSH on the stack's group every other Wednesday and the next
  deploy revokes it, frank puts a bucket policy on the workspace's bucket, grace attaches a
  policy to its role, and in the last week erin deletes its security group.

Look-alikes of the same actions that are NOT console work: the deploy pipeline's AWS CLI
(aws-cli v2 agents with `md/command#...`), CloudFormation acting for a console user
(`invokedBy: cloudformation.amazonaws.com`, sessionCredentialFromConsole true), an anonymous
principal, `AwsConsoleAction` events, and for drift: console reads of the managed resources, the
pipeline's CLI changing them, and console changes to what the console created (alice's groups).
Deterministic for a seed and an end time.
"""

from __future__ import annotations

import copy
import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from provision.demo import generate as g
from provision.demo import delivery
from provision.demo import organisation as org

DAYS = 90
REGION = "us-east-1"
DEVELOPERS_GROUP = "developers"
STACK = "shop-web"           # the demo's CloudFormation stack
CLOUDFORMATION = "cloudformation.amazonaws.com"
_SERVICES = ("checkout", "search", "billing", "catalog", "auth", "notify", "reports", "media", "pricing", "inventory",
             "profile", "gateway", "ledger", "orders")
_PEOPLE_NAMES = ("amara.okafor", "lucas.meyer", "priya.nair", "tomas.silva", "yuki.tanaka", "sofia.rossi", "omar.haddad",
                 "lena.fischer", "noah.kim", "ines.garcia")
_TEAMS = ("data", "ml", "web", "mobile", "finance", "research", "platform")


@dataclass
class DemoWork:
    """What :func:`write_console_work` wrote, and the truth a test checks against."""

    events: int = 0
    files: int = 0
    console_changes: dict[str, int] = field(default_factory=dict)   # eventName -> count (the candidates)
    look_alikes: dict[str, int] = field(default_factory=dict)       # kind -> count (must not count)
    workflows: dict[str, int] = field(default_factory=dict)         # name -> occurrences
    drift: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)  # resource -> (tool, stack, console changes)


def _own_event_id(drawn: str) -> str:
    """An eventID of the console work's own: both writers draw from the same seed, so their
    uuid4 streams meet now and then, and two different events would share an ID (one then
    lost as "already present"). The same bits are drawn (the rest of the set stays as it was),
    then hashed with a salt into another uuid4."""
    digest = bytearray(hashlib.sha256(b"ctstack-demo-console-work:" + drawn.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40   # version 4
    digest[8] = (digest[8] & 0x3F) | 0x80   # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(digest)))


class _Writer:
    def __init__(self, seed: int, end: datetime) -> None:
        self.rng = random.Random(seed)
        rng = random.Random(g.SAMPLE_SEED)
        self.account = org.build_accounts(rng)[0]          # the demo's production account
        self.vpcs = ["vpc-" + org.random_hex(self.rng, 17) for _ in range(3)]
        self.end = end
        self.events: list[dict] = []
        self.stats = DemoWork()
        self.people = {p: org.assumed_role(self.rng, self.account, org.SSO_ROLE, f"{p}@{org.EMAIL_DOMAIN}", mfa=True)
                       for p in ("alice", "bob", "carol", "dave", "frank", "erin", "grace")}
        self.ci = org.assumed_role(self.rng, self.account, self.account.roles[4], "gitlab-deploy")
        self.terraform = org.assumed_role(self.rng, self.account, self.account.roles[4], "terraform-payments")

    # -- events ---------------------------------------------------------------------------
    def _event(self, identity: dict, when: datetime, source: str, name: str, params, response, *, read_only: bool = False,
               agent: str | None = None, ip: str | None = None, console: bool = True, event_type: str = "AwsApiCall") -> dict:
        rng = self.rng
        event = {
            "eventVersion": "1.10", "userIdentity": identity, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": REGION,
            "sourceIPAddress": ip or org.office_ip(rng), "userAgent": agent or rng.choice(org.BROWSERS),
            "requestParameters": params, "responseElements": response,
            "requestID": org.random_uuid(rng), "eventID": _own_event_id(org.random_uuid(rng)), "readOnly": read_only, "eventType": event_type,
            "managementEvent": True, "recipientAccountId": self.account.id, "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                           "clientProvidedHostHeader": g.CONSOLE_HOST.get(source, "{s}.{r}.amazonaws.com").format(s=source, r=REGION)},
        }
        if console:
            event["sessionCredentialFromConsole"] = "true"
        self.events.append(event)
        return event

    def _session(self, person: str, start: datetime) -> dict:
        identity = copy.deepcopy(self.people[person])
        identity["accessKeyId"] = "ASIA" + org.random_chars(self.rng, 16)
        identity["sessionContext"]["attributes"]["creationDate"] = (start - timedelta(minutes=self.rng.randrange(1, 20))).strftime("%Y-%m-%dT%H:%M:%SZ")
        return identity

    def _change(self, name: str) -> None:
        self.stats.console_changes[name] = self.stats.console_changes.get(name, 0) + 1

    def _reads(self, identity: dict, when: datetime, calls: list[tuple[str, str, dict | None]]) -> datetime:
        for source, name, params in calls:
            when += timedelta(seconds=self.rng.randrange(5, 40))
            self._event(identity, when, source, name, params, None, read_only=True)
        return when

    # -- security group for a web service (alice, Mondays) ----------------------------------
    def security_group(self, identity: dict, when: datetime, service: str, *, agent=None, ip=None, console=True) -> datetime:
        rng, a = self.rng, self.account
        group_id = "sg-" + org.random_hex(rng, 17)
        name = f"web-{service}"
        self._event(identity, when, "ec2", "CreateSecurityGroup",
                    {"groupName": name, "groupDescription": f"HTTPS in for {service}", "vpcId": rng.choice(self.vpcs)},
                    {"requestId": org.random_uuid(rng), "_return": True, "groupId": group_id,
                     "securityGroupArn": f"arn:aws:ec2:{REGION}:{a.id}:security-group/{group_id}"}, agent=agent, ip=ip, console=console)
        when += timedelta(seconds=rng.randrange(20, 90))
        self._event(identity, when, "ec2", "AuthorizeSecurityGroupIngress",
                    {"groupId": group_id, "ipPermissions": {"items": [{
                        "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {},
                        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "HTTPS from anywhere"}]},
                        "ipv6Ranges": {}, "prefixListIds": {}}]}},
                    {"requestId": org.random_uuid(rng), "_return": True, "securityGroupRuleSet": {"items": [{
                        "groupOwnerId": a.id, "groupId": group_id, "securityGroupRuleId": "sgr-" + org.random_hex(rng, 17), "isEgress": False,
                        "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0", "description": "HTTPS from anywhere"}]}},
                    agent=agent, ip=ip, console=console)
        when += timedelta(seconds=rng.randrange(20, 90))
        self._event(identity, when, "ec2", "CreateTags",
                    {"resourcesSet": {"items": [{"resourceId": group_id}]},
                     "tagSet": {"items": [{"key": "service", "value": service}, {"key": "owner", "value": "web-team"}]}},
                    {"requestId": org.random_uuid(rng), "_return": True}, agent=agent, ip=ip, console=console)
        return when

    # -- snapshot and tag (bob, working days) ------------------------------------------------
    def snapshot(self, identity: dict, when: datetime) -> datetime:
        rng = self.rng
        volume = rng.choice(self.account.volumes[:5])
        snapshot_id = "snap-" + org.random_hex(rng, 17)
        self._event(identity, when, "ec2", "CreateSnapshot", {"volumeId": volume, "description": f"before release {when:%Y-%m-%d}"},
                    {"requestId": org.random_uuid(rng), "snapshotId": snapshot_id, "volumeId": volume, "status": "pending",
                     "startTime": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "progress": "", "ownerId": self.account.id,
                     "volumeSize": rng.choice((20, 50, 100)), "encrypted": True, "description": f"before release {when:%Y-%m-%d}"})
        when += timedelta(seconds=rng.randrange(15, 60))
        self._event(identity, when, "ec2", "CreateTags",
                    {"resourcesSet": {"items": [{"resourceId": snapshot_id}]}, "tagSet": {"items": [{"key": "retention", "value": "30d"}]}},
                    {"requestId": org.random_uuid(rng), "_return": True})
        return when

    # -- a new developer (carol, now and then) -----------------------------------------------
    def new_developer(self, identity: dict, when: datetime, user: str) -> datetime:
        rng, a = self.rng, self.account
        created = f"{when:%b} {when.day}, {when.year} {(when.hour % 12) or 12}:{when:%M:%S %p}"  # as IAM logs it
        self._event(identity, when, "iam", "CreateUser", {"userName": user},
                    {"user": {"path": "/", "userName": user, "userId": "AIDA" + org.random_chars(rng, 17), "arn": f"arn:aws:iam::{a.id}:user/{user}",
                              "createDate": created}})
        when += timedelta(seconds=rng.randrange(20, 80))
        self._event(identity, when, "iam", "AddUserToGroup", {"groupName": DEVELOPERS_GROUP, "userName": user}, None)
        when += timedelta(seconds=rng.randrange(20, 80))
        self._event(identity, when, "iam", "CreateLoginProfile",
                    {"userName": user, "password": "HIDDEN_DUE_TO_SECURITY_REASONS", "passwordResetRequired": True},
                    {"loginProfile": {"userName": user, "createDate": created, "passwordResetRequired": True}})
        return when

    # -- a new bucket (dave, now and then) ------------------------------------------------------
    def new_bucket(self, identity: dict, when: datetime, bucket: str, team: str) -> datetime:
        rng = self.rng
        host = f"{bucket}.s3.amazonaws.com"
        agent = org.S3_CONSOLE_AGENT
        self._event(identity, when, "s3", "CreateBucket", {"bucketName": bucket, "Host": host}, None, agent=agent)
        when += timedelta(seconds=rng.randrange(10, 40))
        self._event(identity, when, "s3", "PutPublicAccessBlock",
                    {"publicAccessBlock": "", "bucketName": bucket, "Host": host,
                     "PublicAccessBlockConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "BlockPublicAcls": True,
                                                        "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}},
                    None, agent=agent)
        when += timedelta(seconds=rng.randrange(10, 40))
        self._event(identity, when, "s3", "PutBucketTagging",
                    {"tagging": "", "bucketName": bucket, "Host": host,
                     "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": [{"Key": "team", "Value": team}]}}},
                    None, agent=agent)
        return when

    # -- drift: what automation manages, changed by hand ------------------------------------
    def _drift(self, resource: str, tool: str, stack: str | None) -> None:
        _tool, _stack, count = self.stats.drift.get(resource, (tool, stack, 0))
        self.stats.drift[resource] = (tool, stack, count + 1)

    def _cfn_identity(self) -> dict:
        return org.assumed_role(self.rng, self.account, f"{STACK}-cfn-exec", "AWSCloudFormation", invoked_by=CLOUDFORMATION)

    def _ssh(self, group_id: str) -> dict:
        return {"groupId": group_id, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {},
                "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "debug"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}

    def managed_infrastructure(self, first: datetime) -> None:
        """The stack and the workspace, created on the second and third day."""
        rng, a = self.rng, self.account
        tags = [{"key": "aws:cloudformation:stack-name", "value": STACK},
                {"key": "aws:cloudformation:stack-id", "value": f"arn:aws:cloudformation:{REGION}:{a.id}:stack/{STACK}/{org.random_uuid(rng)}"}]
        cfn, when = self._cfn_identity(), first + timedelta(days=1, hours=10)
        self.stack_group = "sg-" + org.random_hex(rng, 17)
        self.stack_bucket = f"acme-{STACK}-assets-{org.random_hex(rng, 6)}"
        self.stack_role = f"{STACK}-task"
        self._event(cfn, when, "ec2", "CreateSecurityGroup",
                    {"groupName": f"{STACK}-WebSecurityGroup-{org.random_chars(rng, 12)}", "groupDescription": "web", "vpcId": self.vpcs[0],
                     "tagSpecificationSet": {"items": [{"resourceType": "security-group", "tags": tags}]}},
                    {"requestId": org.random_uuid(rng), "_return": True, "groupId": self.stack_group}, agent=CLOUDFORMATION, ip=CLOUDFORMATION, console=False)
        self._event(cfn, when + timedelta(seconds=20), "s3", "CreateBucket", {"bucketName": self.stack_bucket, "Host": f"{self.stack_bucket}.s3.amazonaws.com"},
                    None, agent=CLOUDFORMATION, ip=CLOUDFORMATION, console=False)
        self._event(cfn, when + timedelta(seconds=40), "s3", "PutBucketTagging",
                    {"tagging": "", "bucketName": self.stack_bucket, "Host": f"{self.stack_bucket}.s3.amazonaws.com",
                     "Tagging": {"TagSet": {"Tag": [{"Key": t["key"], "Value": t["value"]} for t in tags]}}},
                    None, agent=CLOUDFORMATION, ip=CLOUDFORMATION, console=False)
        self._event(cfn, when + timedelta(seconds=60), "iam", "CreateRole",
                    {"roleName": self.stack_role, "assumeRolePolicyDocument": "{\"Statement\":[]}", "tags": [{"key": t["key"], "value": t["value"]} for t in tags]},
                    {"role": {"roleName": self.stack_role, "arn": f"arn:aws:iam::{a.id}:role/{self.stack_role}", "path": "/"}},
                    agent=CLOUDFORMATION, ip=CLOUDFORMATION, console=False)
        tf, when = self.terraform, first + timedelta(days=2, hours=3)
        self.tf_group = "sg-" + org.random_hex(rng, 17)
        self.tf_role = "payments-app"
        self.tf_bucket = f"acme-payments-ledger-{org.random_hex(rng, 6)}"
        agent, ip = org.TERRAFORM, org.random_ipv4(rng, org.AWS_NETS)
        self._event(tf, when, "ec2", "CreateSecurityGroup", {"groupName": "payments-db", "groupDescription": "Managed by Terraform", "vpcId": self.vpcs[1]},
                    {"requestId": org.random_uuid(rng), "_return": True, "groupId": self.tf_group}, agent=agent, ip=ip, console=False)
        self._event(tf, when + timedelta(seconds=5), "iam", "CreateRole", {"roleName": self.tf_role, "assumeRolePolicyDocument": "{\"Statement\":[]}"},
                    {"role": {"roleName": self.tf_role, "arn": f"arn:aws:iam::{a.id}:role/{self.tf_role}", "path": "/"}}, agent=agent, ip=ip, console=False)
        self._event(tf, when + timedelta(seconds=9), "s3", "CreateBucket", {"bucketName": self.tf_bucket, "Host": f"{self.tf_bucket}.s3.amazonaws.com"},
                    None, agent=agent, ip=ip, console=False)

    def drift_day(self, date: datetime, day: int) -> None:
        """The console edits of managed resources, and their look-alikes."""
        rng, a, stats = self.rng, self.account, self.stats
        weekday = date.weekday()
        if weekday == 2 and (day // 7) % 2 == 1:   # every other Wednesday: SSH on the stack's group
            when = date.replace(hour=15, minute=rng.randrange(60), second=rng.randrange(60))
            erin = self._session("erin", when)
            self._reads(erin, when - timedelta(minutes=1), [("ec2", "DescribeSecurityGroups", {"securityGroupIdSet": {"items": [{"groupId": self.stack_group}]}, "filterSet": {}})])
            self._event(erin, when, "ec2", "AuthorizeSecurityGroupIngress", self._ssh(self.stack_group), {"requestId": org.random_uuid(rng), "_return": True})
            self._change("AuthorizeSecurityGroupIngress")
            self._drift(self.stack_group, "cloudformation", STACK)
            # the next morning's deploy puts the template back
            self._event(self._cfn_identity(), when + timedelta(hours=17), "ec2", "RevokeSecurityGroupIngress", self._ssh(self.stack_group),
                        {"requestId": org.random_uuid(rng), "_return": True}, agent=CLOUDFORMATION, ip=CLOUDFORMATION, console=False)
        if day in (20, 61):   # frank: a bucket policy on the workspace's bucket
            when = date.replace(hour=11, minute=rng.randrange(60), second=rng.randrange(60))
            frank = self._session("frank", when)
            self._reads(frank, when - timedelta(minutes=2), [("s3", "GetBucketPolicy", {"bucketName": self.tf_bucket, "Host": f"{self.tf_bucket}.s3.amazonaws.com", "policy": ""})])
            self._event(frank, when, "s3", "PutBucketPolicy",
                        {"bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a.id}:root"},
                                                                                   "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{self.tf_bucket}/*"}]},
                         "bucketName": self.tf_bucket, "Host": f"{self.tf_bucket}.s3.amazonaws.com", "policy": ""}, None, agent=org.S3_CONSOLE_AGENT)
            self._change("PutBucketPolicy")
            self._drift(f"arn:aws:s3:::{self.tf_bucket}", "terraform", None)
        if day == 33:  # grace: admin rights on the workspace's role
            when = date.replace(hour=17, minute=rng.randrange(60), second=rng.randrange(60))
            grace = self._session("grace", when)
            self._event(grace, when, "iam", "AttachRolePolicy", {"roleName": self.tf_role, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, None)
            self._change("AttachRolePolicy")
            self._drift(f"arn:aws:iam::{a.id}:role/{self.tf_role}", "terraform", None)
        if day == DAYS - 4:  # erin deletes the workspace's security group
            when = date.replace(hour=10, minute=rng.randrange(60), second=rng.randrange(60))
            self._event(self._session("erin", when), when, "ec2", "DeleteSecurityGroup", {"groupId": self.tf_group}, {"requestId": org.random_uuid(rng), "_return": True})
            self._change("DeleteSecurityGroup")
            self._drift(self.tf_group, "terraform", None)
        if day % 21 == 4:   # look-alike: the pipeline's CLI tags the stack's bucket (automation, not the console)
            when = date.replace(hour=3, minute=rng.randrange(60), second=rng.randrange(60))
            self._event(self.ci, when, "s3", "PutBucketTagging",
                        {"tagging": "", "bucketName": self.stack_bucket, "Host": f"{self.stack_bucket}.s3.amazonaws.com",
                         "Tagging": {"TagSet": {"Tag": [{"Key": "cost-center", "Value": "4711"}]}}},
                        None, agent=org.cli_agent(rng, "s3api", "PutBucketTagging"), ip=org.random_ipv4(rng, org.AWS_NETS), console=False)
            stats.look_alikes["automation-edit"] = stats.look_alikes.get("automation-edit", 0) + 1

    # -- the plan ----------------------------------------------------------------------------------
    def plan(self) -> None:
        rng, stats = self.rng, self.stats
        first = (self.end - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0)
        services, people, teams = list(_SERVICES), list(_PEOPLE_NAMES), list(_TEAMS)
        self.managed_infrastructure(first)
        for day in range(DAYS):
            date = first + timedelta(days=day)
            if date >= self.end:
                break
            self.drift_day(date, day)
            weekday = date.weekday()
            if weekday == 0:   # alice's Monday security group
                when = date.replace(hour=9, minute=rng.randrange(0, 50), second=rng.randrange(60))
                identity = self._session("alice", when)
                when = self._reads(identity, when, [("ec2", "DescribeVpcs", {"filterSet": {}, "vpcSet": {}}), ("ec2", "DescribeSecurityGroups", {"filterSet": {}, "securityGroupIdSet": {}})])
                self.security_group(identity, when + timedelta(seconds=30), services[(day // 7) % len(services)])
                self._reads(identity, when + timedelta(minutes=5), [("ec2", "DescribeSecurityGroups", {"filterSet": {}, "securityGroupIdSet": {}})])
                for name in ("CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "CreateTags"):
                    self._change(name)
                stats.workflows["security-group"] = stats.workflows.get("security-group", 0) + 1
                # Look-alike: frank's web stack, deployed from the console through CloudFormation.
                cfn = self._session("frank", when)
                cfn["invokedBy"] = "cloudformation.amazonaws.com"
                self.security_group(cfn, when + timedelta(hours=2), f"stack-{day}", agent="cloudformation.amazonaws.com",
                                    ip="cloudformation.amazonaws.com")
                stats.look_alikes["cloudformation"] = stats.look_alikes.get("cloudformation", 0) + 3
            if weekday < 5:    # bob's snapshot before the daily release, and the pipeline's CLI doing the same
                when = date.replace(hour=16, minute=rng.randrange(0, 40), second=rng.randrange(60))
                identity = self._session("bob", when)
                when = self._reads(identity, when, [("ec2", "DescribeVolumes", {"volumeSet": {}, "filterSet": {}})])
                self.snapshot(identity, when + timedelta(seconds=20))
                for name in ("CreateSnapshot", "CreateTags"):
                    self._change(name)
                stats.workflows["snapshot"] = stats.workflows.get("snapshot", 0) + 1
                ci_when = date.replace(hour=2, minute=rng.randrange(60), second=rng.randrange(60))
                self.security_group(self.ci, ci_when, f"preview-{day}", agent=org.cli_agent(rng, "ec2", "CreateSecurityGroup"),
                                    ip=org.random_ipv4(rng, org.AWS_NETS), console=False)
                stats.look_alikes["aws-cli"] = stats.look_alikes.get("aws-cli", 0) + 3
            if day % 11 == 3 and people:   # carol onboards a developer
                when = date.replace(hour=11, minute=rng.randrange(0, 50), second=rng.randrange(60))
                identity = self._session("carol", when)
                when = self._reads(identity, when, [("iam", "ListUsers", None), ("iam", "GetGroup", {"groupName": DEVELOPERS_GROUP})])
                self.new_developer(identity, when + timedelta(seconds=15), people.pop(0))
                for name in ("CreateUser", "AddUserToGroup", "CreateLoginProfile"):
                    self._change(name)
                stats.workflows["developer"] = stats.workflows.get("developer", 0) + 1
            if day % 17 == 8 and teams:    # dave makes a bucket for a team
                when = date.replace(hour=14, minute=rng.randrange(0, 50), second=rng.randrange(60))
                identity = self._session("dave", when)
                when = self._reads(identity, when, [("s3", "ListBuckets", {"Host": "s3.amazonaws.com"})])
                team = teams.pop(0)
                self.new_bucket(identity, when + timedelta(seconds=20), f"acme-{team}-{org.random_hex(rng, 6)}", team)
                for name in ("CreateBucket", "PutPublicAccessBlock", "PutBucketTagging"):
                    self._change(name)
                stats.workflows["bucket"] = stats.workflows.get("bucket", 0) + 1
            if day % 9 == 5:   # look-alikes of other kinds: anonymous reads/writes and console-only actions
                when = date.replace(hour=13, minute=rng.randrange(60))
                self._event({"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}, when, "s3", "PutObject",
                            {"bucketName": self.account.buckets[5], "Host": f"{self.account.buckets[5]}.s3.amazonaws.com", "key": "upload/form.json"},
                            None, console=False)
                self._event(self._session("alice", when), when + timedelta(seconds=30), "ce", "CreateBudget", None, None,
                            event_type="AwsConsoleAction")
                stats.look_alikes["anonymous"] = stats.look_alikes.get("anonymous", 0) + 1
                stats.look_alikes["console-action"] = stats.look_alikes.get("console-action", 0) + 1

    def write(self, dest: Path) -> DemoWork:
        windows: dict[tuple[int], list[dict]] = {}
        for event in sorted(self.events, key=lambda e: (e["eventTime"], e["eventID"])):
            moment = datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
            windows.setdefault((int(moment.timestamp()) // g.WINDOW_SECONDS,), []).append(event)
        for (window,), records in windows.items():
            delivered = datetime.fromtimestamp((window + 1) * g.WINDOW_SECONDS + 37, tz=self.end.tzinfo)
            key = delivery.log_file_key(self.account, REGION, delivered, "demo" + org.random_chars(self.rng, 12, org.ALNUM))
            path = dest / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(delivery.gzip_bytes(orjson.dumps({"Records": records})))
            self.stats.files += 1
            self.stats.events += len(records)
        return self.stats


def write_console_work(dest: str | Path, end: datetime, seed: int = g.SAMPLE_SEED) -> DemoWork:
    """Write the :data:`DAYS` days of console work before ``end`` under ``dest`` (CloudTrail's layout)."""
    writer = _Writer(seed, end)
    writer.plan()
    return writer.write(Path(dest))
