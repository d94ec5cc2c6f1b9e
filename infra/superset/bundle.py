"""Turns the bundle folder (YAML linked by uuid) into what Superset imports.

Two things are added on the way, so the YAML stays short and readable:
- each dashboard's `layout` (rows of [chart uuid, width, height]) becomes Superset's `position` tree;
- each chart gets a `query_context` derived from its params, so `GET /api/v1/chart/<id>/data/` (and
  reports, alerts, tests) return the chart's rows without the chart being saved in the browser first.
  The rows are the chart's query result before the browser's pivoting, one row per group.
The database URI can be replaced, and with it the datasets' source: on an engine without the DuckDB
views (Trino), each dataset becomes a virtual one whose SQL gives the same columns (trino_datasets.py).

Usage: python bundle.py BUNDLE_DIR OUT.zip [--database-uri URI]
"""
from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from typing import Any

import yaml

ROOT = "lakehouse_bundle"


def load(bundle_dir: str) -> dict[str, Any]:
    docs: dict[str, Any] = {}
    for folder, _, files in os.walk(bundle_dir):
        for name in sorted(files):
            if name.endswith(".yaml"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    docs[os.path.relpath(path, bundle_dir)] = yaml.safe_load(f)
    return docs


def position(title: str, layout: list[list[list[Any]]], charts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pos: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"id": "ROOT_ID", "type": "ROOT", "children": ["GRID_ID"]},
        "GRID_ID": {"id": "GRID_ID", "type": "GRID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": title}},
    }
    n = 0
    for r, row in enumerate(layout):
        row_id = f"ROW-{r}"
        pos["GRID_ID"]["children"].append(row_id)
        pos[row_id] = {"id": row_id, "type": "ROW", "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                       "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for uuid, width, height in row:
            n += 1
            chart = charts[uuid]
            chart_id = f"CHART-{uuid[:8]}"
            pos[row_id]["children"].append(chart_id)
            # chartId is a placeholder: the importer maps it to the real id through the uuid.
            pos[chart_id] = {"id": chart_id, "type": "CHART", "children": [], "parents": ["ROOT_ID", "GRID_ID", row_id],
                             "meta": {"chartId": n, "uuid": uuid, "width": width, "height": height,
                                      "sliceName": chart["slice_name"]}}
    return pos


# The datasets' temporal columns (is_dttm): an x axis on one of them is a time axis with a grain.
TEMPORAL = {"window_start", "window_end", "processed_at", "event_time", "committed_at"}


def axis(params: dict[str, Any]) -> dict[str, Any] | str:
    x = params["x_axis"]
    if x not in TEMPORAL:
        return x
    return {"columnType": "BASE_AXIS", "sqlExpression": x, "label": x, "expressionType": "SQL",
            "timeGrain": params.get("time_grain_sqla")}


def query_context(params: dict[str, Any]) -> str:
    viz = params["viz_type"]
    query: dict[str, Any] = {
        "filters": [], "extras": {"having": "", "where": ""}, "applied_time_extras": {},
        "annotation_layers": [], "row_limit": params.get("row_limit", 10000), "series_limit": 0,
        "order_desc": True, "url_params": {}, "custom_params": {}, "custom_form_data": {}, "time_offsets": [],
        "post_processing": [],
    }
    if viz.startswith("echarts_timeseries"):
        query["columns"] = [axis(params), *params.get("groupby", [])]
        query["metrics"] = params["metrics"]
        query["orderby"] = [[params["metrics"][0], False]]
    elif viz == "big_number_total":
        query["columns"] = []
        query["metrics"] = [params["metric"]]
        query["orderby"] = []
    elif viz == "table":
        query["columns"] = params["groupby"]
        query["metrics"] = params["metrics"]
        query["orderby"] = [[params.get("timeseries_limit_metric") or params["metrics"][0], not params.get("order_desc", True)]]
    else:
        raise ValueError(f"bundle.py does not know how to query a {viz} chart; add it to query_context()")
    query["time_range"] = params.get("time_range", "No filter")
    return json.dumps({
        # The importer replaces the datasource with the imported dataset's id.
        "datasource": {"id": 0, "type": "table"}, "force": False, "queries": [query],
        "form_data": params, "result_format": "json", "result_type": "full",
    }, sort_keys=True)


def build(bundle_dir: str, database_uri: str | None = None, dataset_sql: dict[str, str] | None = None,
          schema: str | None = None) -> dict[str, str]:
    """The bundle as {path below the zip's top folder: YAML text}, as Superset's importer takes it.

    `dataset_sql` ({table_name: SELECT}) turns those datasets into virtual ones in `schema`."""
    docs = load(bundle_dir)
    charts = {d["uuid"]: d for p, d in docs.items() if p.startswith("charts/")}
    out: dict[str, str] = {}
    for path, doc in docs.items():
        if path.startswith("charts/"):
            doc = {**doc, "query_context": query_context(doc["params"])}
        elif path.startswith("dashboards/"):
            doc = dict(doc)
            doc["position"] = position(doc["dashboard_title"], doc.pop("layout"), charts)
        elif path.startswith("databases/") and database_uri:
            doc = {**doc, "sqlalchemy_uri": database_uri}
        elif path.startswith("datasets/") and dataset_sql and doc["table_name"] in dataset_sql:
            doc = {**doc, "sql": dataset_sql[doc["table_name"]], "schema": schema or doc["schema"]}
        out[path] = yaml.safe_dump(doc, sort_keys=False)
    return out


def zip_bytes(contents: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in sorted(contents.items()):
            z.writestr(f"{ROOT}/{path}", text)
    return buf.getvalue()


if __name__ == "__main__":
    args = sys.argv[1:]
    uri = None
    if "--database-uri" in args:
        i = args.index("--database-uri")
        uri = args[i + 1]
        del args[i:i + 2]
    with open(args[1], "wb") as f:
        f.write(zip_bytes(build(args[0], uri)))
