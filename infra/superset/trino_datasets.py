"""The bundle's five datasets as Trino SQL over the Iceberg tables, for `lakehouse dashboard up --database-uri trino://...`.

On the DuckDB route the datasets are physical tables of schema `lakehouse`: views that lakehouse_views.py
defines on every connection. Trino has no per-connection hook, and creating views in the catalog would
write Trino-dialect view definitions into the Iceberg namespace that every other engine shares. So on the
Trino route each dataset becomes a virtual dataset (Superset's `sql`) with the same name and the same
columns, reading `<catalog>."<namespace>"."<table>"` straight from Trino's Iceberg connector. The
metrics, time grains and charts of the bundle are unchanged: they only name these columns.

What the SQL normalises, so the two routes return the same rows:
- timestamps: Iceberg `timestamptz` as UTC wall time (`timestamp(6)`), as the DuckDB views give them;
- a dimension the metrics table was created without (platform, country, channel) reads as NULL;
- ingest_commits and ingest_dead_letters come from the `$snapshots` metadata table's summaries, the same
  snapshots the DuckDB views read from the metadata file;
- the column list is taken when the bundle is imported. A table that does not exist yet is assumed to
  have the columns every such table has (the metrics table without dimensions, which the charts do not
  group by): its charts show Trino's "table does not exist" until ingest or the metrics job creates it,
  and then its data, with no re-import.
"""
from __future__ import annotations

from typing import Callable

from lakehouse_views import CONSUMED_KEY, DEAD_LETTERED_KEY, DUPLICATES_KEY, EVENTS_COLUMNS, METRICS_COLUMNS, REASON_PREFIX, q

# The DuckDB view types the datasets declare, as Trino spells them.
TRINO_TYPES = {"TIMESTAMP": "timestamp(6)", "VARCHAR": "varchar", "BIGINT": "bigint", "DOUBLE": "double", "BOOLEAN": "boolean"}

# Same rule as lakehouse_views.LATE_AFTER, in the interval syntax both engines read.
LATE_AFTER = "INTERVAL '10' MINUTE"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# What a table that does not exist yet is assumed to have: every column but the optional dimensions.
DIMENSIONS = {"platform", "country", "channel"}
METRICS_ALWAYS = {c for c, _ in METRICS_COLUMNS} - DIMENSIONS
EVENTS_ALWAYS = {c for c, _ in EVENTS_COLUMNS}


def utc(column: str) -> str:
    return f"CAST({column} AT TIME ZONE 'UTC' AS timestamp(6))"


def select(columns: list[tuple[str, str]], present: set[str], source: str, extra: str = "") -> str:
    def expr(c: str, t: str) -> str:
        if c not in present:
            return f"CAST(NULL AS {TRINO_TYPES[t]}) AS {c}"
        return f"{utc(c)} AS {c}" if t == "TIMESTAMP" else c
    return f"SELECT {', '.join(expr(c, t) for c, t in columns)}{extra} FROM {source}"


def summary(key: str) -> str:
    return f"CAST(element_at(summary, {q(key)}) AS bigint)"


def dataset_sql(catalog: str, namespace: str, events_table: str, metrics_table: str,
                columns_of: Callable[[str], set[str]]) -> dict[str, str]:
    """{dataset table_name: Trino SELECT}; `columns_of(table)` gives a table's columns (empty: not there yet)."""
    def table(name: str, suffix: str = "") -> str:
        return f"{ident(catalog)}.{ident(namespace)}.{ident(name + suffix)}"

    metrics = select(METRICS_COLUMNS, columns_of(metrics_table) or METRICS_ALWAYS, table(metrics_table))
    late = f", processed_at - event_time > {LATE_AFTER} AS late"
    snapshots = table(events_table, "$snapshots")
    return {
        "campaign_metrics": metrics,
        "campaign_metrics_last_15m": (
            f"WITH m AS ({metrics}) SELECT * FROM m WHERE window_start >= (SELECT max(window_end) FROM m) - INTERVAL '15' MINUTE"),
        "campaign_events": select(EVENTS_COLUMNS, columns_of(events_table) or EVENTS_ALWAYS, table(events_table), late),
        "ingest_commits": (
            f"SELECT {utc('committed_at')} AS committed_at, snapshot_id, {summary(CONSUMED_KEY)} AS consumed, "
            f"coalesce({summary('added-records')}, 0) AS written, {summary(DEAD_LETTERED_KEY)} AS dead_lettered, "
            f"{summary(DUPLICATES_KEY)} AS duplicates FROM {snapshots} WHERE element_at(summary, {q(CONSUMED_KEY)}) IS NOT NULL"),
        "ingest_dead_letters": (
            f"SELECT {utc('committed_at')} AS committed_at, substr(k, {len(REASON_PREFIX) + 1}) AS reason, CAST(v AS bigint) AS letters "
            f"FROM {snapshots} CROSS JOIN UNNEST(summary) AS s (k, v) WHERE starts_with(k, {q(REASON_PREFIX)})"),
    }


def from_uri(database_uri: str, cfg: dict[str, object]) -> dict[str, str]:
    """The datasets' SQL for the Trino of `database_uri` (trino://user@host:port/<catalog>), with the tables'
    columns read from Trino's information_schema, so the SQL names only columns that exist."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_uri)
    catalog = (url.database or "").split("/")[0]
    if not catalog:
        raise SystemExit(f"--database-uri {url.render_as_string(hide_password=True)} names no Trino catalog; "
                         "end it with the Iceberg catalog's name, e.g. trino://lakehouse@127.0.0.1:18080/iceberg.")
    namespace = str(cfg.get("namespace", "lakehouse"))
    events_table = str(cfg.get("events_table", "campaign_events"))
    metrics_table = str(cfg.get("metrics_table", "campaign_metrics"))
    engine = create_engine(database_uri)
    try:
        with engine.connect() as con:
            rows = con.execute(text(
                f"SELECT table_name, column_name FROM {ident(catalog)}.information_schema.columns "
                "WHERE table_schema = :ns AND table_name IN (:events, :metrics)"),
                {"ns": namespace, "events": events_table, "metrics": metrics_table}).fetchall()
    except Exception as e:  # noqa: BLE001 (any driver or connection error becomes the sentence below)
        raise SystemExit(f"Trino at {url.host}:{url.port} did not answer the dashboard's column lookup ({str(e).splitlines()[0][:300]}); "
                         "start it (infra/services.sh up trino) or fix --database-uri.") from e
    finally:
        engine.dispose()
    columns: dict[str, set[str]] = {}
    for table_name, column in rows:
        columns.setdefault(table_name, set()).add(column)
    return dataset_sql(catalog, namespace, events_table, metrics_table, lambda t: columns.get(t, set()))
