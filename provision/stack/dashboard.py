"""The Kibana saved objects ctstack installs: a data view and the "CloudTrail console activity"
dashboard, built here so every field name comes from :mod:`provision.cloudtrail.fields`.

The output is Kibana's export format (one JSON object per line, NDJSON) for Kibana 9.x, with
Lens panels stored by value inside the dashboard, the way Kibana itself exports them: each
panel keeps its own ``references`` and the dashboard repeats them as
``<panelIndex>:indexpattern-datasource-layer-<layerId>``. Every id (objects, panels, layers,
columns) is fixed, so importing again overwrites instead of duplicating.

``kibana/ctstack-dashboard.ndjson`` in the repository is this module's output for the default
index prefix (regenerate with ``python -m provision.stack.dashboard > kibana/ctstack-dashboard.ndjson``;
a test keeps it in step).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from provision.cloudtrail import fields as F
from provision.core import settings

# Kibana's migration markers. coreMigrationVersion 8.8.0 is what every 8.8+/9.x export carries.
# 10.2.0 is the dashboard model version 2 (8.13+); later 9.x model versions only add mappings
# (collapsible sections, access control) that these objects do not use, and Kibana migrates an
# older object up on import but refuses a newer one, so 10.2.0 imports into every 9.x.
CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSIONS = {"index-pattern": "8.0.0", "dashboard": "10.2.0"}

RECORDS = "___records___"  # Lens' pseudo-field for "count of documents"
GRID_COLUMNS = 48          # a Kibana dashboard is 48 grid units wide


def kql(field_name: str, value: str | bool) -> str:
    """A KQL clause ``field : value`` (booleans as true/false, strings quoted)."""
    if isinstance(value, bool):
        return f"{field_name} : {str(value).lower()}"
    return f'{field_name} : "{value}"'


# --- Lens columns -------------------------------------------------------------------------

def count_column(label: str = "Events") -> dict:
    return {
        "label": label, "customLabel": True, "dataType": "number", "operationType": "count",
        "isBucketed": False, "scale": "ratio", "sourceField": RECORDS, "params": {"emptyAsNull": True},
    }


def unique_count_column(source_field: str, label: str) -> dict:
    return {
        "label": label, "customLabel": True, "dataType": "number", "operationType": "unique_count",
        "isBucketed": False, "scale": "ratio", "sourceField": source_field, "params": {"emptyAsNull": True},
    }


def max_date_column(source_field: str, label: str) -> dict:
    # Lens' max supports date fields and then keeps dataType "date" (shown as a date).
    return {
        "label": label, "customLabel": True, "dataType": "date", "operationType": "max",
        "isBucketed": False, "scale": "ratio", "sourceField": source_field, "params": {"emptyAsNull": True},
    }


def terms_column(source_field: str, label: str, order_by: str, size: int = 10, other_bucket: bool = True) -> dict:
    return {
        "label": label, "customLabel": True, "dataType": "string", "operationType": "terms",
        "isBucketed": True, "scale": "ordinal", "sourceField": source_field,
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": other_bucket,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
            "include": [], "exclude": [], "includeIsRegex": False, "excludeIsRegex": False,
        },
    }


def filters_column(label: str, buckets: list[tuple[str, str]]) -> dict:
    """Buckets by KQL query: ``[(bucket label, query), ...]``."""
    return {
        "label": label, "customLabel": True, "dataType": "string", "operationType": "filters",
        "isBucketed": True, "scale": "ordinal",
        "params": {"filters": [{"label": name, "input": {"language": "kuery", "query": query}} for name, query in buckets]},
    }


def date_histogram_column(source_field: str = F.TIMESTAMP) -> dict:
    return {
        "label": source_field, "dataType": "date", "operationType": "date_histogram",
        "isBucketed": True, "scale": "interval", "sourceField": source_field,
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


# --- Lens visualizations ----------------------------------------------------------------------

@dataclass
class LensPanel:
    """One Lens chart stored by value in the dashboard, on one data layer."""

    panel_id: str
    title: str
    visualization_type: str
    columns: dict[str, dict]                 # column id -> column, in display order
    visualization: dict
    grid: tuple[int, int, int, int]          # x, y, w, h
    query: str = ""                          # KQL applied to this panel only
    description: str = ""
    layer_id: str = field(default="")

    def __post_init__(self) -> None:
        self.layer_id = self.layer_id or f"{self.panel_id}-layer"

    def references(self) -> list[dict]:
        return [{"type": "index-pattern", "id": settings.DATA_VIEW_ID, "name": f"indexpattern-datasource-layer-{self.layer_id}"}]

    def attributes(self) -> dict:
        layer = {"columns": self.columns, "columnOrder": list(self.columns), "incompleteColumns": {}, "sampling": 1}
        return {
            "title": self.title,
            "description": self.description,
            "visualizationType": self.visualization_type,
            "type": "lens",
            "references": self.references(),
            "state": {
                "visualization": self.visualization,
                "query": {"language": "kuery", "query": self.query},
                "filters": [],
                "datasourceStates": {
                    # No empty "indexpattern" state: Lens's 8.6 migration copies it over
                    # "formBased", so an empty one would wipe the layers if ever migrated.
                    "formBased": {"layers": {self.layer_id: layer}},
                    "textBased": {"layers": {}},
                },
                "internalReferences": [],
                "adHocDataViews": {},
            },
        }

    def panel(self) -> dict:
        x, y, w, h = self.grid
        return {
            "type": "lens",
            "panelIndex": self.panel_id,
            "gridData": {"x": x, "y": y, "w": w, "h": h, "i": self.panel_id},
            "embeddableConfig": {"title": self.title, "attributes": self.attributes(), "enhancements": {}},
        }


def pie(panel_id: str, title: str, group: tuple[str, dict], metric: tuple[str, dict], grid, *, query: str = "", description: str = "", shape: str = "pie") -> LensPanel:
    (group_id, group_col), (metric_id, metric_col) = group, metric
    layer_id = f"{panel_id}-layer"
    return LensPanel(
        panel_id=panel_id, title=title, visualization_type="lnsPie",
        columns={group_id: group_col, metric_id: metric_col},
        visualization={
            "shape": shape,
            "layers": [{
                "layerId": layer_id, "layerType": "data",
                "primaryGroups": [group_id], "metrics": [metric_id],
                "numberDisplay": "percent", "categoryDisplay": "default",
                "legendDisplay": "show", "nestedLegend": False,
            }],
        },
        grid=grid, query=query, description=description, layer_id=layer_id,
    )


def xy(panel_id: str, title: str, series_type: str, x: tuple[str, dict], y: tuple[str, dict], grid, *, split: tuple[str, dict] | None = None, query: str = "", description: str = "") -> LensPanel:
    (x_id, x_col), (y_id, y_col) = x, y
    layer_id = f"{panel_id}-layer"
    columns = {x_id: x_col}
    if split:
        columns[split[0]] = split[1]
    columns[y_id] = y_col
    layer = {
        "layerId": layer_id, "layerType": "data", "seriesType": series_type,
        "xAccessor": x_id, "accessors": [y_id], "position": "top", "showGridlines": False,
    }
    if split:
        layer["splitAccessor"] = split[0]
    return LensPanel(
        panel_id=panel_id, title=title, visualization_type="lnsXY", columns=columns,
        visualization={
            "legend": {"isVisible": True, "position": "right"},
            "valueLabels": "hide",
            "preferredSeriesType": series_type,
            "layers": [layer],
        },
        grid=grid, query=query, description=description, layer_id=layer_id,
    )


def table(panel_id: str, title: str, columns: dict[str, dict], grid, *, sort_by: str, query: str = "", description: str = "") -> LensPanel:
    layer_id = f"{panel_id}-layer"
    return LensPanel(
        panel_id=panel_id, title=title, visualization_type="lnsDatatable", columns=columns,
        visualization={
            "layerId": layer_id, "layerType": "data",
            "columns": [{"columnId": column_id, "isTransposed": False} for column_id in columns],
            "sorting": {"columnId": sort_by, "direction": "desc"},
            "paging": {"enabled": True, "size": 20},
        },
        grid=grid, query=query, description=description, layer_id=layer_id,
    )


# --- The dashboard --------------------------------------------------------------------------

CONSOLE = kql(F.CONSOLE, True)
CANDIDATES = kql(F.AUTOMATION_CANDIDATE, True)
DRIFT = kql(F.DRIFT, True)


def panels() -> list[LensPanel]:
    """The dashboard's charts, top to bottom."""
    events = ("events", count_column())
    return [
        pie(
            "console-actions", "Console events by action",
            ("action", terms_column(F.EVENT_ACTION, "Action", order_by="events")), events,
            grid=(0, 0, 24, 15), query=CONSOLE,
            description="Every API call made from the AWS Management Console, by action. Read-only "
            "Describe*/List*/Get* calls usually dominate it: that is why the next chart exists.",
        ),
        pie(
            "candidate-actions", "Automation candidates by action",
            ("action", terms_column(F.EVENT_ACTION, "Action", order_by="events")), events,
            grid=(24, 0, 24, 15), query=CANDIDATES,
            description="Console calls that change something, made by people: the work worth automating.",
        ),
        table(
            "candidate-table", "Automation candidates",
            {
                "action": terms_column(F.EVENT_ACTION, "Action", order_by="events", size=50, other_bucket=False),
                "provider": terms_column(F.EVENT_PROVIDER, "Provider", order_by="events", size=3, other_bucket=False),
                "events": count_column("Count"),
                "users": unique_count_column(F.USER_NAME, "Distinct users"),
                "last-seen": max_date_column(F.TIMESTAMP, "Last seen"),
            },
            grid=(0, 15, GRID_COLUMNS, 16), sort_by="events", query=CANDIDATES,
            description="Which changing console actions repeat, how often, by how many people, and when last.",
        ),
        xy(
            "console-over-time", "Console activity over time: read-only vs changing", "bar_stacked",
            ("time", date_histogram_column()), events, grid=(0, 31, GRID_COLUMNS, 14),
            split=("kind", filters_column("Kind", [("Read-only", kql(F.READ_ONLY, True)), ("Changing", kql(F.READ_ONLY, False))])),
            query=CONSOLE,
        ),
        pie(
            "console-share", "Console vs programmatic (all events)",
            ("origin", filters_column("Origin", [("Console", kql(F.CONSOLE, True)), ("Programmatic", kql(F.CONSOLE, False))])),
            events, grid=(0, 45, 16, 14), shape="donut",
        ),
        xy(
            "failures-by-error", "Failures by error code", "bar_horizontal",
            ("error-code", terms_column(F.CT_ERROR_CODE, "Error code", order_by="events")), events,
            grid=(16, 45, 32, 14), query=kql(F.EVENT_OUTCOME, "failure"),
        ),
        table(
            "drift-table", "Console changes to resources automation manages (drift)",
            {
                "resource": terms_column(F.RESOURCES_CHANGED, "Resource", order_by="events", size=50, other_bucket=False),
                "action": terms_column(F.EVENT_ACTION, "Action", order_by="events", size=5, other_bucket=False),
                "events": count_column("Console changes"),
                "users": unique_count_column(F.USER_NAME, "Distinct users"),
                "last-seen": max_date_column(F.TIMESTAMP, "Last change"),
            },
            grid=(0, 59, 32, 16), sort_by="events", query=DRIFT,
            description="Console changes to resources that CloudFormation, Terraform, Pulumi or other automation created or "
            "manages: the next deploy may revert them. Marked after each import; `ctstack hints` has who manages each and whether "
            "the next deploy overwrote it.",
        ),
        xy(
            "drift-over-time", "Drift over time", "bar_stacked",
            ("time", date_histogram_column()), ("events", count_column("Console changes")), grid=(32, 59, 16, 16),
            query=DRIFT,
        ),
    ]


def data_view(index_prefix: str = settings.INDEX_PREFIX) -> dict:
    return _saved_object("index-pattern", settings.DATA_VIEW_ID, {
        "title": f"{index_prefix}-*",
        "name": "ctstack CloudTrail",
        "timeFieldName": F.TIMESTAMP,
        "allowHidden": False,
        # Before the first import no index matches: without this every panel shows field errors.
        "allowNoIndex": True,
        "fieldAttrs": "{}",
        "fieldFormatMap": "{}",
        "runtimeFieldMap": "{}",
        "sourceFilters": "[]",
        "fields": "[]",
    }, references=[])


def dashboard() -> dict:
    charts = panels()
    references = [
        {**ref, "name": f"{chart.panel_id}:{ref['name']}"} for chart in charts for ref in chart.references()
    ]
    return _saved_object("dashboard", settings.DASHBOARD_ID, {
        "title": settings.DASHBOARD_TITLE,
        "description": "Which AWS Management Console actions people repeat by hand, so they can be automated.",
        "panelsJSON": _compact([chart.panel() for chart in charts]),
        "optionsJSON": _compact({"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False, "hidePanelTitles": False}),
        "timeRestore": True,
        "timeFrom": "now-90d",
        "timeTo": "now",
        "refreshInterval": {"pause": True, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": _compact({"query": {"language": "kuery", "query": ""}, "filter": []})},
        "version": 3,
    }, references=references)


def saved_objects(index_prefix: str = settings.INDEX_PREFIX) -> list[dict]:
    """The data view first, then the dashboard that references it."""
    return [data_view(index_prefix), dashboard()]


def ndjson(index_prefix: str = settings.INDEX_PREFIX) -> bytes:
    """The saved objects as the NDJSON file the Kibana import API takes."""
    return "".join(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n" for obj in saved_objects(index_prefix)).encode("utf-8")


def _saved_object(so_type: str, so_id: str, attributes: dict, references: list[dict]) -> dict[str, Any]:
    return {
        "type": so_type,
        "id": so_id,
        "attributes": attributes,
        "references": references,
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[so_type],
    }


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


if __name__ == "__main__":
    sys.stdout.buffer.write(ndjson())
