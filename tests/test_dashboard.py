"""The Kibana saved objects: a data view and the "CloudTrail console activity" dashboard.

Kibana cannot run here, so these tests check the objects themselves: Kibana's export format,
references that resolve, Lens state that is internally consistent, and fields that the index
template maps with an aggregatable type. (The CI workflow imports them into a real Kibana.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from provision.stack import dashboard
from provision.cloudtrail import fields
from provision.core import settings
from provision.cloudtrail.template import index_template

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "kibana" / "ctstack-dashboard.ndjson"

# Field types Lens can bucket or aggregate on (text and flattened cannot be).
AGGREGATABLE = {"keyword", "constant_keyword", "boolean", "date", "date_nanos", "ip", "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}

# The dashboard attributes Kibana's dashboard schema accepts (it forbids unknown keys).
DASHBOARD_ATTRIBUTES = {"title", "description", "kibanaSavedObjectMeta", "timeRestore", "timeFrom", "timeTo", "refreshInterval", "controlGroupInput", "panelsJSON", "optionsJSON", "hits", "version"}

KQL_FIELD = re.compile(r"([@A-Za-z_][\w.@]*)\s*:")


def objects() -> list[dict]:
    return [json.loads(line) for line in dashboard.ndjson().decode().splitlines()]


def by_type(so_type: str) -> dict:
    (obj,) = [o for o in objects() if o["type"] == so_type]
    return obj


def lens_panels() -> list[dict]:
    return json.loads(by_type("dashboard")["attributes"]["panelsJSON"])


def layers(panel: dict) -> dict[str, dict]:
    return panel["embeddableConfig"]["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]


def panel_titled(title: str) -> dict:
    (panel,) = [p for p in lens_panels() if p["embeddableConfig"]["title"] == title]
    return panel


def columns(panel: dict) -> list[dict]:
    (layer,) = layers(panel).values()
    return [layer["columns"][column_id] for column_id in layer["columnOrder"]]


def panel_query(panel: dict) -> str:
    return panel["embeddableConfig"]["attributes"]["state"]["query"]["query"]


def mapped_fields(mappings: dict) -> dict[str, str]:
    """Dotted field name -> mapping type, multi-fields included."""
    found: dict[str, str] = {}

    def walk(properties: dict, prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            if "type" in spec:
                found[path] = spec["type"]
            for sub, sub_spec in (spec.get("fields") or {}).items():
                found[f"{path}.{sub}"] = sub_spec["type"]
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")

    walk(mappings.get("properties", {}), "")
    return found


def fields_used() -> set[str]:
    """Every document field the saved objects read: Lens columns, KQL queries, the time field."""
    used = {by_type("index-pattern")["attributes"]["timeFieldName"]}
    for panel in lens_panels():
        used |= set(KQL_FIELD.findall(panel_query(panel)))
        for column in columns(panel):
            if column.get("sourceField") and column["sourceField"] != dashboard.RECORDS:
                used.add(column["sourceField"])
            for bucket in column.get("params", {}).get("filters", []):
                used |= set(KQL_FIELD.findall(bucket["input"]["query"]))
    return used


# --- Kibana's export format ----------------------------------------------------------------------

def test_every_line_is_a_saved_object_in_kibana_export_format():
    lines = dashboard.ndjson().decode().splitlines()
    assert len(lines) == 2
    for line in lines:
        obj = json.loads(line)
        assert {"type", "id", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"} <= obj.keys()
        assert obj["coreMigrationVersion"] == "8.8.0"
    assert by_type("index-pattern")["typeMigrationVersion"] == "8.0.0"
    assert by_type("dashboard")["typeMigrationVersion"] == "10.2.0"


def test_ids_are_stable_so_a_second_import_overwrites():
    assert [(o["type"], o["id"]) for o in objects()] == [
        ("index-pattern", settings.DATA_VIEW_ID),
        ("dashboard", settings.DASHBOARD_ID),
    ]
    assert dashboard.ndjson() == dashboard.ndjson(), "generation must be deterministic (no random ids)"


def test_the_data_view_covers_the_indices_with_the_event_time():
    attributes = by_type("index-pattern")["attributes"]
    assert attributes["title"] == f"{settings.INDEX_PREFIX}-*"
    assert attributes["timeFieldName"] == fields.TIMESTAMP


def test_a_custom_index_prefix_changes_only_the_data_view_pattern():
    default, custom = dashboard.saved_objects(), dashboard.saved_objects("acme-trail")
    assert custom[0]["attributes"]["title"] == "acme-trail-*"
    assert custom[0]["id"] == default[0]["id"]
    assert custom[1] == default[1]


def test_the_committed_ndjson_is_the_builders_output():
    """kibana/ctstack-dashboard.ndjson is what CI and people import by hand; regenerate it with
    `python -m provision.stack.dashboard > kibana/ctstack-dashboard.ndjson`."""
    assert COMMITTED.read_bytes() == dashboard.ndjson()


# --- references -------------------------------------------------------------------------------------

def test_every_reference_points_at_an_object_in_the_file():
    in_file = {(o["type"], o["id"]) for o in objects()}
    dash = by_type("dashboard")
    refs = list(dash["references"])
    for panel in lens_panels():
        refs += panel["embeddableConfig"]["attributes"]["references"]
    assert refs
    assert all((ref["type"], ref["id"]) in in_file for ref in refs), refs


def test_the_dashboard_references_each_lens_layer_by_panel_and_layer_id():
    """Kibana extracts a by-value panel's references into the dashboard as
    `<panelIndex>:indexpattern-datasource-layer-<layerId>`; it injects them back on load."""
    expected = {
        f"{panel['panelIndex']}:indexpattern-datasource-layer-{layer_id}"
        for panel in lens_panels()
        for layer_id in layers(panel)
    }
    names = [ref["name"] for ref in by_type("dashboard")["references"]]
    assert sorted(names) == sorted(expected)
    for panel in lens_panels():
        inline = {ref["name"] for ref in panel["embeddableConfig"]["attributes"]["references"]}
        assert inline == {f"indexpattern-datasource-layer-{layer_id}" for layer_id in layers(panel)}


# --- dashboard structure ------------------------------------------------------------------------------

def test_dashboard_attributes_are_ones_kibana_accepts():
    attributes = by_type("dashboard")["attributes"]
    assert set(attributes) <= DASHBOARD_ATTRIBUTES, set(attributes) - DASHBOARD_ATTRIBUTES
    assert attributes["title"] == settings.DASHBOARD_TITLE == "CloudTrail console activity"
    for key in ("panelsJSON", "optionsJSON"):
        assert isinstance(attributes[key], str), f"{key} is a JSON string in Kibana's format"
    json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_panel_ids_are_unique_and_match_their_grid_ids():
    ids = [p["panelIndex"] for p in lens_panels()]
    assert len(ids) == len(set(ids))
    for panel in lens_panels():
        assert panel["gridData"]["i"] == panel["panelIndex"]
        assert panel["type"] == "lens"


def test_panels_fit_the_48_column_grid_without_overlapping():
    cells: dict[tuple[int, int], str] = {}
    for panel in lens_panels():
        grid = panel["gridData"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 48 and grid["w"] > 0 and grid["h"] > 0
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['panelIndex']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["panelIndex"]


def test_lens_accessors_point_at_columns_of_their_own_layer():
    for panel in lens_panels():
        attributes = panel["embeddableConfig"]["attributes"]
        visualization = attributes["state"]["visualization"]
        for layer_id, layer in layers(panel).items():
            assert layer["columnOrder"] == list(layer["columns"])
            column_ids = set(layer["columns"])
            for column in layer["columns"].values():
                order_by = column.get("params", {}).get("orderBy", {})
                if order_by.get("type") == "column":
                    assert order_by["columnId"] in column_ids
            if attributes["visualizationType"] == "lnsDatatable":
                assert visualization["layerId"] == layer_id
                assert [c["columnId"] for c in visualization["columns"]] == layer["columnOrder"]
                assert visualization["sorting"]["columnId"] in column_ids
                continue
            (vis_layer,) = [vl for vl in visualization["layers"] if vl["layerId"] == layer_id]
            if attributes["visualizationType"] == "lnsPie":
                referenced = vis_layer["primaryGroups"] + vis_layer["metrics"]
            else:
                assert attributes["visualizationType"] == "lnsXY"
                referenced = [vis_layer["xAccessor"], *vis_layer["accessors"]] + ([vis_layer["splitAccessor"]] if "splitAccessor" in vis_layer else [])
            assert sorted(referenced) == sorted(column_ids), panel["panelIndex"]


# --- fields -----------------------------------------------------------------------------------------

def test_every_field_used_is_a_ctstack_document_field():
    known = {value for name, value in vars(fields).items() if name.isupper() and isinstance(value, str)}
    assert fields_used() <= known, fields_used() - known


def test_every_field_used_is_mapped_aggregatable_in_the_index_template():
    mapped = mapped_fields(index_template()["template"]["mappings"])
    used = fields_used()
    assert {fields.EVENT_ACTION, fields.USER_NAME, fields.CONSOLE, fields.READ_ONLY, fields.CT_ERROR_CODE} <= used
    for name in sorted(used):
        assert name in mapped, f"{name} is not in the index template"
        assert mapped[name] in AGGREGATABLE, f"{name} is mapped as {mapped[name]}, which Lens cannot aggregate"


# --- the dashboard answers the question ----------------------------------------------------------

def terms_fields(panel: dict) -> list[str]:
    return [c["sourceField"] for c in columns(panel) if c["operationType"] == "terms"]


def filter_queries(panel: dict) -> list[str]:
    return [b["input"]["query"] for c in columns(panel) if c["operationType"] == "filters" for b in c["params"]["filters"]]


def test_console_events_by_action_is_the_2014_pie():
    panel = panel_titled("Console events by action")
    assert panel["embeddableConfig"]["attributes"]["visualizationType"] == "lnsPie"
    assert panel_query(panel) == f"{fields.CONSOLE} : true"
    assert terms_fields(panel) == [fields.EVENT_ACTION]


def test_automation_candidates_by_action_is_the_chart_the_2014_post_never_had():
    panel = panel_titled("Automation candidates by action")
    assert panel["embeddableConfig"]["attributes"]["visualizationType"] == "lnsPie"
    assert panel_query(panel) == f"{fields.AUTOMATION_CANDIDATE} : true"
    assert terms_fields(panel) == [fields.EVENT_ACTION]


def test_the_candidate_table_has_action_provider_count_users_and_last_seen():
    panel = panel_titled("Automation candidates")
    assert panel["embeddableConfig"]["attributes"]["visualizationType"] == "lnsDatatable"
    assert panel_query(panel) == f"{fields.AUTOMATION_CANDIDATE} : true"
    assert [(c["label"], c["operationType"], c.get("sourceField")) for c in columns(panel)] == [
        ("Action", "terms", fields.EVENT_ACTION),
        ("Provider", "terms", fields.EVENT_PROVIDER),
        ("Count", "count", dashboard.RECORDS),
        ("Distinct users", "unique_count", fields.USER_NAME),
        ("Last seen", "max", fields.TIMESTAMP),
    ]


def test_console_activity_over_time_is_split_into_read_only_and_changing():
    panel = panel_titled("Console activity over time: read-only vs changing")
    assert panel_query(panel) == f"{fields.CONSOLE} : true"
    assert [c["operationType"] for c in columns(panel)] == ["date_histogram", "filters", "count"]
    assert filter_queries(panel) == [f"{fields.READ_ONLY} : true", f"{fields.READ_ONLY} : false"]


def test_console_share_covers_all_events_and_failures_are_split_by_error_code():
    share = panel_titled("Console vs programmatic (all events)")
    assert panel_query(share) == ""
    assert filter_queries(share) == [f"{fields.CONSOLE} : true", f"{fields.CONSOLE} : false"]
    failures = panel_titled("Failures by error code")
    assert panel_query(failures) == f'{fields.EVENT_OUTCOME} : "failure"'
    assert terms_fields(failures) == [fields.CT_ERROR_CODE]


# --- packaging ------------------------------------------------------------------------------------

@pytest.mark.slow  # a package install into a folder
def test_a_non_editable_install_produces_the_same_saved_objects(tmp_path):
    """`pip install .` ships the builder: build the wheel (from a clean copy of the sources, so
    no stale build/ directory leaks in), unpack it, generate from there."""
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("ctstack-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert {"provision/stack/dashboard.py", "provision/stack/kibana.py", "provision/stack/provisioning.py"} <= set(names)
        archive.extractall(tmp_path / "site")
    script = "import sys, provision, provision.stack.dashboard as d; print(provision.__file__, file=sys.stderr); sys.stdout.buffer.write(d.ndjson())"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, env={"PYTHONPATH": str(tmp_path / "site")}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stderr.decode().startswith(str(tmp_path / "site")), "imported the worktree, not the wheel"
    assert run.stdout == COMMITTED.read_bytes()


@pytest.mark.parametrize("pattern", [r"\bctstack\.[a-z_]+\b", r"\bevent\.[a-z_]+\b", r"\baws\.cloudtrail\.[a-z_.]+\b"])
def test_the_builder_writes_no_field_name_literals(pattern):
    """Field names come from provision.cloudtrail.fields (one source of truth)."""
    source = (REPO / "provision" / "stack" / "dashboard.py").read_text()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    docstring_free = re.sub(r'"""[\s\S]*?"""', "", code)
    assert not re.findall(pattern, docstring_free)
