"""The long-running imports on the command line: `import s3://... --follow` (rounds until a
signal) and `import --sqs-queue URL` (batches until a signal or an empty queue), each with a
live line on a terminal, one line per round or batch in a service's log, or NDJSON."""

from __future__ import annotations

import json

import typer

from provision.cli.render import err_console, round_line
from provision.core.connection import EsConfig
from provision.ingest.options import ImportOptions
from provision.sources.s3options import S3Options


def follow_rounds(cfg: EsConfig, sources: list[str], s3: S3Options, options: ImportOptions, interval: str, json_output: bool) -> int:
    """`ctstack import s3://... --follow`: rounds until a signal; a live line or NDJSON per round."""
    from provision.ingest.continuous import StopSwitch, parse_interval
    from provision.ingest.follow import follow
    from provision.cli.progress import LiveLine

    seconds = parse_interval(interval)
    stop = StopSwitch()
    with stop.on_signals(), LiveLine(enabled=err_console.is_terminal and not json_output) as line:
        rounds = [0]

        def in_round(summary) -> None:
            line.update(f"round {rounds[0] + 1}: files {summary.files_read:,}  events {summary.events_read:,}  "
                        f"indexed {summary.events_indexed:,}  failed {summary.events_failed:,}")

        def on_round(report: dict) -> None:
            rounds[0] = report["round"]
            if json_output:
                typer.echo(json.dumps(report))
            elif not line.enabled:  # a service's log: one line per round
                err_console.print(round_line(report), highlight=False, soft_wrap=True, markup=False)
            line.update(round_line(report))

        result = follow(cfg, sources, s3.filters, interval=seconds, s3_options=s3, options=options.but(progress=in_round),
                        stop=stop, on_round=on_round)
    if not json_output:
        err_console.print(round_line(result.last_round) if result.last_round else "stopped before the first round", highlight=False, markup=False)
        if result.dead_letter:
            err_console.print(f"Failed events and their reasons: {result.dead_letter}", highlight=False, markup=False)
    return 0 if result.ok else 1


def consume_queue(cfg: EsConfig, queue_url: str, s3: S3Options, options: ImportOptions, exit_when_empty: bool,
                   poll_seconds: int, json_output: bool) -> int:
    """`ctstack import --sqs-queue URL`: batches until a signal (or an empty queue); NDJSON per batch."""
    from provision.ingest.continuous import OK, StopSwitch, format_lag
    from provision.cli.progress import LiveLine
    from provision.ingest.sqsqueue import consume

    stop = StopSwitch()
    with stop.on_signals(), LiveLine(enabled=err_console.is_terminal and not json_output) as line:
        def on_batch(report: dict) -> None:
            state = "" if report["state"] == OK else f"  [{report['state']}: {report.get('error')}]"
            text = (f"batch {report['batch']} at {report['at'][11:19]}Z: {report['messages']} messages "
                    f"({report['messages_deleted']} deleted, {report['messages_not_deleted']} kept), "
                    f"{report.get('events_read', 0):,} events, lag {format_lag(report.get('lag_seconds'))}{state}")
            if json_output:
                typer.echo(json.dumps(report))
                return
            line.update(text)
            if not line.enabled:  # a service's log: one line per batch
                err_console.print(text, highlight=False, soft_wrap=True, markup=False)
            for failed in report["failed_messages"]:
                err_console.print(f"message {failed['message_id']} kept (received {failed['receive_count']}x): {failed['reason']}",
                                  highlight=False, soft_wrap=True, markup=False)

        result = consume(cfg, queue_url, s3.filters, s3_options=s3, options=options, stop=stop, on_batch=on_batch,
                         exit_when_empty=exit_when_empty, wait_seconds=poll_seconds)
    if json_output:
        typer.echo(json.dumps({"summary": result.to_dict()}))
    else:
        totals = result.totals
        err_console.print(f"{totals.get('messages', 0):,} messages: {totals.get('messages_deleted', 0):,} deleted, "
                          f"{totals.get('messages_not_deleted', 0):,} kept on the queue; {totals.get('events_indexed', 0):,} events indexed, "
                          f"{totals.get('events_duplicate', 0):,} already present, {totals.get('events_failed', 0):,} failed",
                          highlight=False, markup=False)
    return 0 if result.ok else 1
