"""`ctstack hints` offline: what counts, how often, by whom, and the CLI to automate it.

Events are hand-written (tests/support/trail.py); classification itself is the importer's
(tests of its rules live with the classifier); these tests show how each rule shapes the hints.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provision.cli.commands import app
from provision.core.errors import CtstackError
from provision.analysis.hints import Filters, HintsCounter, hints_from_files, hints_from_sources
from provision.analysis.hints_request import HintsRequest, ranked_hints
from provision.report.hints_output import to_csv, to_json, to_markdown
from provision.cloudtrail.records import SourceFile
from provision.sources.local import local_files
from tests.support.trail import BROWSER_AGENT, CLI_AGENT, role_event, once_misclassified_events, write_trail


def count(events: list[dict], filters: Filters = Filters(), top: int = 0):
    counter = HintsCounter(filters)
    for e in events:
        counter.add(e)
    return counter.result(top=top)


def actions(hints) -> dict[str, int]:
    return {c.action: c.count for c in hints.candidates}


# -- which events are automation candidates ------------------------------------------------

def test_only_console_events_that_change_something_are_candidates() -> None:
    hints = count([
        role_event("RunInstances", agent=BROWSER_AGENT),                                   # console, changes
        role_event("DescribeInstances", agent=BROWSER_AGENT, read_only=True),              # console, reads
        role_event("TerminateInstances", agent=CLI_AGENT),                                 # programmatic
        role_event("ConsoleLogin", "signin.amazonaws.com", eventType="AwsConsoleSignIn", agent=BROWSER_AGENT),  # a sign-in
    ])
    assert actions(hints) == {"RunInstances": 1}
    assert hints.console_events == 3
    assert hints.distinct_events == 4
    assert hints.automation_candidates == 1


@pytest.mark.parametrize(
    ("how", "fields"),
    [
        ("console user agent of a service", {"agent": "console.ec2.amazonaws.com"}),
        ("bracketed console agent", {"agent": "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12]"}),
        ("browser agent", {"agent": BROWSER_AGENT}),
        ("signin agent", {"agent": "signin.amazonaws.com"}),
        ("session credential from the console, as a string", {"agent": "AWS Internal", "sessionCredentialFromConsole": "TRUE"}),
        ("session credential from the console, as a boolean", {"agent": "AWS Internal", "sessionCredentialFromConsole": True}),
    ],
)
def test_every_console_signal_makes_a_change_a_candidate(how: str, fields: dict) -> None:
    hints = count([role_event("CreateSecurityGroup", **fields)])
    assert actions(hints) == {"CreateSecurityGroup": 1}, how


@pytest.mark.parametrize(
    ("name", "read_only", "candidate"),
    [
        ("DescribeInstances", None, False),   # no readOnly: read-only by name
        ("ListBuckets", None, False),
        ("GetObject", "true", False),         # readOnly as a string
        ("Getaway", None, True),              # "Get" not followed by an upper-case letter
        ("CreateBucket", None, True),
        ("DescribeThing", False, True),       # the event's own readOnly wins over its name
    ],
)
def test_read_only_events_are_not_candidates(name: str, read_only, candidate: bool) -> None:
    hints = count([role_event(name, read_only=read_only)])
    assert (name in actions(hints)) is candidate


# -- distinct events -------------------------------------------------------------------------

def test_the_same_event_in_two_files_counts_once(tmp_path: Path) -> None:
    twice = role_event("CreateUser", "iam.amazonaws.com")
    write_trail(tmp_path / "trail-a", [twice, role_event("CreateUser", "iam.amazonaws.com")])
    write_trail(tmp_path / "trail-b", [twice])  # an overlapping second trail delivers it again
    hints = hints_from_sources([str(tmp_path)])
    assert hints.events_read == 3
    assert hints.distinct_events == 2
    assert actions(hints) == {"CreateUser": 2}


def test_events_without_an_event_id_are_told_apart_by_their_content() -> None:
    same = role_event("PutBucketPolicy", "s3.amazonaws.com", event_id=None)
    other = role_event("PutBucketPolicy", "s3.amazonaws.com", event_id=None, time="2024-08-01T10:00:01Z")
    hints = count([same, dict(same), other])
    assert hints.events_read == 3
    assert hints.distinct_events == 2
    assert actions(hints) == {"PutBucketPolicy": 2}


# -- what each candidate says ----------------------------------------------------------------

def test_a_candidate_has_count_users_days_first_last_top_users_and_cli() -> None:
    hints = count([
        role_event("PutMetricAlarm", "monitoring.amazonaws.com", user="alice", time="2024-08-01T09:00:00Z"),
        role_event("PutMetricAlarm", "monitoring.amazonaws.com", user="alice", time="2024-08-01T17:30:00Z"),
        role_event("PutMetricAlarm", "monitoring.amazonaws.com", user="bob", time="2024-08-03T08:15:00Z"),
        role_event("PutMetricAlarm", "monitoring.amazonaws.com", user="carol", time="2024-08-02T12:00:00Z"),
        role_event("PutMetricAlarm", "monitoring.amazonaws.com", user="dave", time="2024-07-31T23:59:59Z"),
    ])
    [alarm] = hints.candidates
    assert (alarm.provider, alarm.action, alarm.count, alarm.users, alarm.days_active) == ("monitoring.amazonaws.com", "PutMetricAlarm", 5, 4, 4)
    assert (alarm.first_seen, alarm.last_seen) == ("2024-07-31T23:59:59Z", "2024-08-03T08:15:00Z")
    # Most active first; ties alphabetically; three at most.
    assert alarm.top_users == [{"user": "alice", "count": 2}, {"user": "bob", "count": 1}, {"user": "carol", "count": 1}]
    assert alarm.cli == "aws cloudwatch put-metric-alarm"


def test_candidates_are_ranked_by_count_and_top_cuts_the_list() -> None:
    events = [role_event("CreateBucket", "s3.amazonaws.com") for _ in range(3)]
    events += [role_event("CreateUser", "iam.amazonaws.com") for _ in range(2)]
    events += [role_event("AttachUserPolicy", "iam.amazonaws.com") for _ in range(2)]
    events += [role_event("DeleteEnvironment", "cloudshell.amazonaws.com")]
    assert [c.action for c in count(events, top=0).candidates] == ["CreateBucket", "AttachUserPolicy", "CreateUser", "DeleteEnvironment"]
    top2 = count(events, top=2)
    assert [c.action for c in top2.candidates] == ["CreateBucket", "AttachUserPolicy"]
    assert top2.candidate_actions == 4
    assert top2.automation_candidates == 8


def test_a_console_only_action_has_no_cli_command() -> None:
    [shell] = count([role_event("DeleteEnvironment", "cloudshell.amazonaws.com")]).candidates
    assert shell.cli is None


def test_console_actions_and_daily_activity_feed_the_report() -> None:
    hints = count([
        role_event("RunInstances", time="2024-08-01T10:00:00Z"),
        role_event("DescribeInstances", read_only=True, time="2024-08-01T11:00:00Z"),
        role_event("DescribeInstances", read_only=True, time="2024-08-03T11:00:00Z"),
        role_event("RunInstances", agent=CLI_AGENT, time="2024-08-02T11:00:00Z"),  # not console: not shown
    ])
    assert [(a.action, a.count) for a in hints.console_actions] == [("DescribeInstances", 2), ("RunInstances", 1)]
    assert [(d.day, d.read_only, d.changing) for d in hints.activity] == [("2024-08-01", 1, 1), ("2024-08-03", 1, 0)]


# -- filters ---------------------------------------------------------------------------------

def test_filters_keep_only_matching_events() -> None:
    events = [
        role_event("CreateUser", "iam.amazonaws.com", user="alice", account="111111111111", region="eu-west-1", time="2024-08-01T10:00:00Z"),
        role_event("CreateRole", "iam.amazonaws.com", user="bob", account="222222222222", region="us-east-1", time="2024-08-02T10:00:00Z"),
        role_event("CreatePolicy", "iam.amazonaws.com", user="bob", account="111111111111", region="us-east-1", time="2024-08-03T23:59:59Z"),
    ]
    assert set(actions(count(events, Filters(accounts=("111111111111",))))) == {"CreateUser", "CreatePolicy"}
    assert set(actions(count(events, Filters(regions=("us-east-1",))))) == {"CreateRole", "CreatePolicy"}
    assert set(actions(count(events, Filters(users=("bob",))))) == {"CreateRole", "CreatePolicy"}
    # A bare --until date means the whole day.
    assert set(actions(count(events, Filters.from_text(since="2024-08-02", until="2024-08-03")))) == {"CreateRole", "CreatePolicy"}
    assert set(actions(count(events, Filters.from_text(until="2024-08-02T09:00:00Z")))) == {"CreateUser"}
    filtered = count(events, Filters(users=("bob",)))
    assert filtered.distinct_events == 2 and filtered.filters == "user=bob"


def test_time_bounds_are_checked() -> None:
    assert Filters.from_text(since="2024-08-01T12:00:00").since == datetime(2024, 8, 1, 12, tzinfo=timezone.utc)
    week_ago = Filters.from_text(since="7d").since
    assert week_ago is not None and abs((datetime.now(timezone.utc) - week_ago).total_seconds() - 7 * 86400) < 60
    with pytest.raises(CtstackError, match="Cannot read the time"):
        Filters.from_text(since="yesterday")
    with pytest.raises(CtstackError, match="after --until"):
        Filters.from_text(since="2024-08-02", until="2024-08-01")


# -- nothing read is lost --------------------------------------------------------------------

def test_every_file_and_event_read_is_accounted_for(tmp_path: Path) -> None:
    write_trail(tmp_path, [role_event("CreateUser", "iam.amazonaws.com"), role_event("CreateUser", "iam.amazonaws.com", eventTime=None)])
    (tmp_path / "broken.json").write_text("{not json")

    def unreadable() -> bytes:
        raise PermissionError("access denied")

    files = [*local_files([tmp_path]), SourceFile(name="s3://bucket/key.json.gz", read=unreadable)]
    hints = hints_from_files(files)
    assert hints.files_read == 3
    assert [f["path"] for f in hints.skipped_files] == [str(tmp_path / "broken.json")]
    assert hints.failed_files == [{"path": "s3://bucket/key.json.gz", "reason": "could not read: access denied"}]
    assert (hints.events_read, hints.events_unusable, hints.distinct_events) == (2, 1, 1)
    assert hints.unusable_reasons == {"no usable eventTime": 1}


def test_console_look_alikes_are_not_candidates_but_honest_console_events_still_count() -> None:
    hints = count(once_misclassified_events())
    assert actions(hints) == {"ChangePassword": 1}  # signin-invoked: the console's own calls
    console = {a.action for a in hints.console_actions}
    assert {"EnableSerialConsoleAccess", "GetObject", "PutObject"}.isdisjoint(console)  # aws-cli v2, anonymous
    assert {"CreateRole", "UpdateBillingPreferences", "CreateSession", "CreateCase", "SwitchRole"} <= console


def test_ignored_actions_are_not_candidates_by_name_or_by_source() -> None:
    events = [role_event("StopInstances"), role_event("StartInstances"), role_event("CreateUser", "iam.amazonaws.com"),
              role_event("AttachRolePolicy", "iam.amazonaws.com")]
    filters = Filters.from_text(ignore_actions=["ec2.amazonaws.com:StopInstances", "iam.amazonaws.com:*"])
    hints = count(events, filters)
    assert actions(hints) == {"StartInstances": 1}
    assert hints.console_events == 4  # still console events: only not worth automating
    assert "ignoring ec2.amazonaws.com:StopInstances iam.amazonaws.com:*" in hints.filters
    assert actions(count(events)) == {"StopInstances": 1, "StartInstances": 1, "CreateUser": 1, "AttachRolePolicy": 1}


def test_ignore_action_on_the_command_line(tmp_path: Path) -> None:
    write_trail(tmp_path, [role_event("StopInstances"), role_event("StartInstances"), role_event("CreateUser", "iam.amazonaws.com")])
    ignore = ["--ignore-action", "ec2.amazonaws.com:StopInstances", "--ignore-action", "iam.amazonaws.com:*"]
    hints = CliRunner().invoke(app, ["hints", str(tmp_path), "--format", "json", *ignore])
    assert hints.exit_code == 0, hints.output
    assert [c["action"] for c in json.loads(hints.output)["candidates"]] == ["StartInstances"]
    report = CliRunner().invoke(app, ["report", str(tmp_path), "-o", str(tmp_path / "r.html"), *ignore])
    assert report.exit_code == 0, report.output
    table = (tmp_path / "r.html").read_text().split('id="candidates-table"')[1]
    assert "StartInstances" in table and "StopInstances" not in table and "CreateUser" not in table
    bad = CliRunner().invoke(app, ["hints", str(tmp_path), "--ignore-action", "StopInstances"])
    assert bad.exit_code == 1 and "SOURCE:NAME" in bad.output and "Traceback" not in bad.output


# -- output ----------------------------------------------------------------------------------

def sample_hints():
    return count([
        role_event("PutMetricAlarm", "monitoring.amazonaws.com", user="alice"),
        role_event("PutMetricAlarm", "monitoring.amazonaws.com", user="bob"),
        role_event("DeleteEnvironment", "cloudshell.amazonaws.com", user="carol"),
    ])


def test_json_has_the_documented_shape() -> None:
    data = json.loads(to_json(sample_hints()))
    assert {"events_read", "distinct_events", "console_events", "automation_candidates", "candidates"} <= set(data)
    assert (data["events_read"], data["distinct_events"], data["console_events"], data["automation_candidates"]) == (3, 3, 3, 3)
    first, second = data["candidates"]
    assert {"provider", "action", "count", "users", "first_seen", "last_seen", "cli"} <= set(first)
    assert (first["action"], first["count"], first["users"], first["cli"]) == ("PutMetricAlarm", 2, 2, "aws cloudwatch put-metric-alarm")
    assert second["cli"] is None


def test_csv_and_markdown_list_the_candidates() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(sample_hints()))))
    assert [(r["action"], r["count"], r["cli"]) for r in rows] == [("PutMetricAlarm", "2", "aws cloudwatch put-metric-alarm"), ("DeleteEnvironment", "1", "")]
    markdown = to_markdown(sample_hints())
    assert "| 1 | PutMetricAlarm | monitoring.amazonaws.com | 2 | 2 |" in markdown
    assert "`aws cloudwatch put-metric-alarm`" in markdown and "_no public API (console only)_" in markdown


def test_the_command_reads_folders_offline(tmp_path: Path) -> None:
    write_trail(tmp_path, [role_event("PutMetricAlarm", "monitoring.amazonaws.com"), role_event("RunInstances", agent=CLI_AGENT)])
    result = CliRunner().invoke(app, ["hints", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(c["action"], c["cli"]) for c in data["candidates"]] == [("PutMetricAlarm", "aws cloudwatch put-metric-alarm")]

    table = CliRunner().invoke(app, ["hints", str(tmp_path)], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "PutMetricAlarm" in table.output and "aws cloudwatch put-metric-alarm" in table.output


def test_a_hints_request_from_python_reads_sources_and_refuses_what_the_command_refuses(tmp_path: Path) -> None:
    """What `ctstack hints` calls, as a Python user calls it: sources, top and rank in one value."""
    write_trail(tmp_path, [role_event("CreateBucket", "s3.amazonaws.com") for _ in range(3)] + [role_event("CreateUser", "iam.amazonaws.com")])
    hints = ranked_hints(HintsRequest("hints", sources=(str(tmp_path),), top=1))
    assert [c.action for c in hints.candidates] == ["CreateBucket"] and hints.candidate_actions == 2
    with pytest.raises(CtstackError, match="not both"):
        ranked_hints(HintsRequest("hints", sources=(str(tmp_path),), from_es=True))
    with pytest.raises(CtstackError, match="does not use Elasticsearch"):
        ranked_hints(HintsRequest("hints", sources=(str(tmp_path),), es_options_given=True))
    with pytest.raises(CtstackError, match="--rank must be one of count, time"):
        ranked_hints(HintsRequest("hints", sources=(str(tmp_path),), rank="size"))


def test_a_bad_elasticsearch_url_still_points_to_reading_files(tmp_path: Path) -> None:
    """Without sources hints ask Elasticsearch; a URL that cannot be read says so and offers the
    files instead (unless --from-es asked for Elasticsearch by name)."""
    result = CliRunner().invoke(app, ["hints", "--es-url", "http://[::1"], env={"CTSTACK_HOME": str(tmp_path)})
    assert result.exit_code != 0
    assert "ctstack hints ./logs/" in " ".join(result.output.split())
    named = CliRunner().invoke(app, ["hints", "--from-es", "--es-url", "http://[::1"], env={"CTSTACK_HOME": str(tmp_path)})
    assert named.exit_code != 0 and "ctstack hints ./logs/" not in " ".join(named.output.split())

def test_the_command_says_what_is_wrong(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["hints", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "no such file or folder" in missing.output
    bad_format = CliRunner().invoke(app, ["hints", str(tmp_path), "--format", "xml"])
    assert bad_format.exit_code == 2 and "'xml' is not one of 'table', 'json'" in " ".join(bad_format.output.split())


def test_csv_formula_cells_and_markdown_html_pipes_newlines_are_neutralised() -> None:
    """Action and user names come from the logs, so from anyone who can call an API:
    a spreadsheet must not run them as formulas, and a markdown table must not render
    them as HTML or break its rows on them."""
    hints = count([
        role_event('=HYPERLINK("http://evil.example","x")', "ec2.amazonaws.com", user="@SUM(1+1)"),
        role_event("Run|Instances<img src=x onerror=alert(1)>\nnext row", "+cmd.amazonaws.com", user="-2+3"),
    ])
    rows = list(csv.reader(io.StringIO(to_csv(hints))))[1:]
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells and "'+cmd.amazonaws.com" in cells
    assert any(cell.startswith("'@SUM(1+1)") for cell in cells) and any(cell.startswith("'-2+3") for cell in cells)

    markdown = to_markdown(hints)
    table_rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table_rows) == 2 + 2  # header, separator, one line per candidate: no newline broke a row
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt;" in markdown
    assert "Run\\|Instances" in markdown
    for row in table_rows:  # every row has the header's 11 cells: no | from a name split one
        assert len([cell for cell in row.replace("\\|", "").split("|")[1:-1]]) == 11
