"""The local stack's ``up`` and ``status``: start it (or use an existing cluster), wait until
ready, provision, import; report containers, health and the events held. Its files are
:mod:`provision.stack.local_settings`'s, its Compose project :mod:`provision.stack.compose`'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from provision.stack import health
from provision.core import settings
from provision.core.connection import EsConfig, connected, read_env_file, server_version
from provision.core.urls import display_url
from provision.core.errors import CtstackError
from provision.cloudtrail.fields import TIMESTAMP
from provision.stack.compose import LocalStack
from provision.stack.local_settings import (compose_file, ensure_credentials, local_kibana_enabled, resolve_stack_settings, sample_dir,
                                          write_stack_env)


NO_KIBANA_NOTE = ("Kibana skipped: the local stack runs without Kibana (`ctstack up --no-kibana`), so the data view and "
                  "dashboard are not installed; `ctstack up` without --no-kibana adds Kibana.")


class ImportReport(Protocol):
    """What `up` reads from an import summary (provision.ingest.summary.ImportSummary has these)."""

    files_read: int
    events_indexed: int
    events_duplicate: int
    events_failed: int
    dead_letter: str | None
    aborted: str | None

    @property
    def interrupted(self) -> bool: ...


@dataclass(frozen=True)
class PostUpSteps:
    """What `up` does once Elasticsearch and Kibana are ready. Each step belongs to another
    module; None means this build does not have it.

    - ``provision(es, kibana, index_prefix, timeout) -> dashboard URL``: index template +
      Kibana data view and dashboard (``kibana`` is None without a Kibana to provision).
    - ``import_sources(es, sources, index_prefix) -> ImportReport``: what `ctstack import` does.
    - ``write_sample(dest_dir)``: writes the deterministic demo CloudTrail files.
    """

    provision: Callable[[EsConfig, health.Target | None, str, float], str | None] | None = None
    import_sources: Callable[[EsConfig, Sequence[str], str], ImportReport] | None = None
    write_sample: Callable[[Path], Any] | None = None


def post_up_steps() -> PostUpSteps:
    """The steps `ctstack up` runs after the stack is healthy: provisioning (template, data
    view, dashboard), the importer, and the sample-data generator."""
    from provision.ingest import import_sources as importing
    from provision.stack.kibana import KibanaConfig, resolve_kibana_config
    from provision.stack.provisioning import provision_all

    def provision(es_cfg: EsConfig, kibana: health.Target | None, index_prefix: str, timeout: float) -> str | None:
        kibana_cfg = None
        if isinstance(kibana, KibanaConfig):
            kibana_cfg = kibana
        elif kibana is not None:
            kibana_cfg = resolve_kibana_config(kibana.url, es=es_cfg)
        return provision_all(es_cfg, kibana_cfg, index_prefix=index_prefix, kibana_timeout=timeout).dashboard_url

    def import_sources(es_cfg: EsConfig, sources: Sequence[str], index_prefix: str) -> ImportReport:
        return importing.import_sources(es_cfg, sources, index_prefix=index_prefix)

    return PostUpSteps(provision=provision, import_sources=import_sources, write_sample=_sample_writer())


def _sample_writer() -> Callable[[Path], Any]:
    from provision.demo.demo_set import write_demo

    return write_demo  # what `ctstack demo DIR` writes, too


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def progress(self, probe: health.Probe) -> None: ...


@dataclass(frozen=True)
class UpOptions:
    es: EsConfig | None = None         # an existing cluster: Compose is skipped entirely
    kibana_url: str | None = None      # an existing Kibana (needs `es`)
    es_heap: str | None = None
    kibana_locale: str | None = None
    es_image: str | None = None        # the local stack's images (default: env, then the last up, then official)
    kibana_image: str | None = None
    no_kibana: bool = False            # the local stack without Kibana (and its setup)
    imports: tuple[str, ...] = ()
    sample: bool = False
    timeout: float = health.DEFAULT_TIMEOUT
    index_prefix: str = settings.INDEX_PREFIX


@dataclass
class UpResult:
    local: bool
    es_url: str
    kibana_url: str | None
    dashboard_url: str | None = None
    credentials_file: Path | None = None
    credentials_created: bool = False
    imported: ImportReport | None = None
    kibana_skipped: str | None = None   # why no dashboard was installed (an existing cluster without Kibana)

    @property
    def ok(self) -> bool:
        """False when an import step could not index every event (the exit code says so)."""
        if self.imported is None:
            return True
        return bool(getattr(self.imported, "ok", not self.imported.events_failed))


def up(options: UpOptions, *, stack: LocalStack | None = None, steps: PostUpSteps | None = None,
       reporter: Reporter | None = None) -> UpResult:
    """Bring up the local stack (or use an existing cluster), wait until it is ready, provision
    it, and import what was asked. Safe to re-run: secrets stay, Compose leaves running
    containers alone, provisioning overwrites, re-imported events are recognised."""
    steps = steps or post_up_steps()
    reporter = reporter or _SilentReporter()
    if options.es is not None and (options.es_image or options.kibana_image or options.no_kibana):
        raise CtstackError("--es-image, --kibana-image and --no-kibana choose the local stack's containers; with --es-url no container is started.")
    if options.es is None and options.kibana_url:
        raise CtstackError("--kibana-url needs --es-url too (an existing cluster has both); without them `ctstack up` runs the local stack.")
    if options.sample and steps.write_sample is None:
        raise CtstackError("--sample needs the sample-data generator, which this build of ctstack does not have.")
    if (options.imports or options.sample) and steps.import_sources is None:
        raise CtstackError("--import/--sample need the importer, which this build of ctstack does not have.")

    if options.es is not None:
        result, es_cfg, kibana = _use_existing_cluster(options, reporter)
    else:
        stack = stack or LocalStack()
        result, es_cfg, kibana = _start_local_stack(stack, options, reporter)

    if result.local:
        es_hint, kibana_hint = health.LOCAL_ES_HINT, health.LOCAL_KIBANA_HINT
    else:
        es_hint = f"check that {display_url(es_cfg.url)} is the right address and that the cluster is running"
        kibana_hint = f"check that {display_url(kibana.url)} is the right address and that Kibana is running" if kibana else ""
    try:
        health.wait_for_elasticsearch(es_cfg, timeout=options.timeout, on_progress=reporter.progress, hint=es_hint)
        if kibana:
            health.wait_for_kibana(kibana, timeout=options.timeout, on_progress=reporter.progress, hint=kibana_hint)
    except CtstackError:
        explained = stack.explain_not_ready(options.timeout) if stack is not None and result.local else None
        if explained is None:
            raise
        raise CtstackError(explained) from None

    if steps.provision:
        reporter.step("Installing the index template" + (" and the Kibana dashboard…" if kibana else "…"))
        result.dashboard_url = steps.provision(es_cfg, kibana, options.index_prefix, options.timeout)
    else:
        reporter.step("Provisioning is not part of this build; skipped.")

    sources = list(options.imports)
    if options.sample:
        assert steps.write_sample is not None
        reporter.step(f"Writing the sample CloudTrail data to {sample_dir()}…")
        steps.write_sample(sample_dir())
        sources.append(str(sample_dir()))
    if sources:
        assert steps.import_sources is not None
        reporter.step(f"Importing {', '.join(sources)}…")
        result.imported = steps.import_sources(es_cfg, sources, options.index_prefix)
    return result


def _use_existing_cluster(options: UpOptions, reporter: Reporter) -> tuple[UpResult, EsConfig, health.Target | None]:
    assert options.es is not None
    from provision.stack.kibana import resolve_kibana_config

    es_cfg = options.es
    # Kibana accepts the same users and API keys as Elasticsearch.
    kibana = resolve_kibana_config(options.kibana_url, es=es_cfg) if options.kibana_url else None
    reporter.step(f"Using the existing cluster at {display_url(es_cfg.url)} (Compose is not used).")
    result = UpResult(local=False, es_url=es_cfg.url, kibana_url=kibana.url if kibana else None)
    if kibana is None:
        result.kibana_skipped = kibana_skipped_note(es_cfg.url)
    return result, es_cfg, kibana


def kibana_left_out(es_url: str, kibana_named: bool) -> str | None:
    """Why `provision` installs no Kibana objects, or None when it does: the local Kibana belongs
    to the local Elasticsearch only (another cluster's Kibana must be named), and a stack started
    with `up --no-kibana` has none."""
    from provision.stack.provisioning import is_local_stack

    if kibana_named:
        return None
    if not is_local_stack(es_url):
        return kibana_skipped_note(es_url)
    return None if local_kibana_enabled() else NO_KIBANA_NOTE


def kibana_skipped_note(es_url: str) -> str:
    """The one line `up` and `provision` print when an existing cluster has no Kibana named."""
    return (f"Kibana skipped: no --kibana-url was given for the Elasticsearch at {display_url(es_url)}, so the data view "
            "and dashboard are not installed; add --kibana-url https://YOUR-KIBANA:5601 (or CTSTACK_KIBANA_URL) to install them.")


def _start_local_stack(stack: LocalStack, options: UpOptions, reporter: Reporter) -> tuple[UpResult, EsConfig, health.Target | None]:
    stack.check_ready()
    stack_settings = resolve_stack_settings(options.es_heap, options.kibana_locale, es_image=options.es_image,
                                            kibana_image=options.kibana_image, kibana=not options.no_kibana)
    created = ensure_credentials()
    write_stack_env(stack_settings)
    reporter.step("Starting Elasticsearch" + (" and Kibana" if stack_settings.kibana else "") + " (docker compose up)…")
    stack.start(options.timeout, kibana=stack_settings.kibana)
    password = read_env_file(settings.credentials_file())["ELASTIC_PASSWORD"]
    es_cfg = EsConfig(url=stack.es_url, user=settings.LOCAL_ES_USER, password=password)
    kibana = dataclasses.replace(es_cfg, url=stack.kibana_url) if stack_settings.kibana else None
    result = UpResult(local=True, es_url=es_cfg.url, kibana_url=kibana.url if kibana else None,
                      credentials_file=settings.credentials_file(), credentials_created=created,
                      kibana_skipped=None if kibana else NO_KIBANA_NOTE)
    return result, es_cfg, kibana


class _SilentReporter:
    def step(self, message: str) -> None:
        pass

    def progress(self, probe: health.Probe) -> None:
        pass


@dataclass
class StackStatus:
    compose_file: str
    credentials_file: str | None
    engine: str = "not checked"
    containers: list[dict[str, str]] = field(default_factory=list)
    elasticsearch: dict[str, Any] = field(default_factory=dict)
    kibana: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.elasticsearch.get("reachable"))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def status(es_cfg: EsConfig, kibana: health.Target | None, *, stack: LocalStack | None = None,
           index_prefix: str = settings.INDEX_PREFIX) -> StackStatus:
    """Containers (when ``stack`` is given), Elasticsearch health and documents, Kibana's level.
    Never raises for an unreachable part: it is reported."""
    report = StackStatus(compose_file=str(compose_file()),
                         credentials_file=str(settings.credentials_file()) if settings.credentials_file().exists() else None)
    if stack is not None:
        try:
            stack.check_engine()
        except CtstackError as err:
            report.engine = f"not reachable: {err}"
        else:
            report.engine = "running"
            if report.credentials_file:
                try:
                    stack.check_compose()
                    stack.require_setup()
                    report.containers = stack.containers()
                except CtstackError as err:
                    report.containers = [{"error": str(err)}]
    report.elasticsearch = elasticsearch_status(es_cfg, index_prefix)
    if kibana is not None:
        report.kibana = {"url": display_url(kibana.url)}
        try:
            probe = health.probe_kibana(kibana)
            report.kibana.update(level=probe.state, available=probe.ready)
        except CtstackError as err:
            report.kibana.update(available=False, error=str(err))
    return report


def elasticsearch_status(es_cfg: EsConfig, index_prefix: str = settings.INDEX_PREFIX) -> dict[str, Any]:
    """Reachability, version, cluster health, the number of CloudTrail events and the newest
    event's time (max @timestamp) across ``<index_prefix>-*``."""
    info: dict[str, Any] = {"url": display_url(es_cfg.url), "reachable": False}
    pattern = f"{index_prefix}-*"
    try:
        with connected(es_cfg, request_timeout=10) as es:
            info.update(reachable=True, version=server_version(es), cluster_health=es.cluster.health()["status"])
            info["documents"] = es.count(index=pattern, allow_no_indices=True, ignore_unavailable=True)["count"]
            span = es.search(index=pattern, size=0, allow_no_indices=True, ignore_unavailable=True,
                             aggs={"newest": {"max": {"field": TIMESTAMP}}, "oldest": {"min": {"field": TIMESTAMP}}})
            found = span.get("aggregations") or {}
            info["newest_event"] = (found.get("newest") or {}).get("value_as_string")
            info["oldest_event"] = (found.get("oldest") or {}).get("value_as_string")
    except CtstackError as err:  # unreachable or refused (reachable stays False), or a query failed
        info["error"] = str(err)
    return info


def dashboard_on_the_data(url: str, es_cfg: EsConfig, index_prefix: str = settings.INDEX_PREFIX) -> str:
    """The dashboard URL on the imported events' time range (the saved range, the last 90
    days, may miss them or show them as a sliver); as it was when the range cannot be read."""
    from provision.stack.kibana import with_time_range

    span = elasticsearch_status(es_cfg, index_prefix)
    return with_time_range(url, span.get("oldest_event"), span.get("newest_event"))
