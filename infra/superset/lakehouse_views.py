"""DuckDB views over the lakehouse's Iceberg tables, defined on every new connection at each table's
current snapshot.

Superset opens a new database connection for each query (NullPool), and superset_config.py runs
`install(con)` on each new DuckDB connection (a SQLAlchemy "connect" event). So every query reads the
snapshot the catalog points at when the query starts: no copy of the data, no refresh step, and no
guessing of the newest metadata file from a folder listing (a file the catalog never committed, e.g.
one written by a commit that lost its race, must not be read).

Per connection the catalog is asked for the tables' metadata locations (one read-only SQLite query, or
one REST `loadTable` per table) and each becomes a connection variable; the views, in schema `lakehouse`
of a database shared by the process's connections, read `iceberg_scan(getvariable(...))`:

  campaign_metrics            iceberg_scan of the metrics table; timestamps as UTC wall time; a dimension
                              the table was created without (platform, country, channel) reads as NULL
  campaign_metrics_last_15m   the rows whose window starts within 15 minutes of the newest window_end
                              (the "last 15 minutes of data": demo and replayed data may lie in the past)
  campaign_events             the columns the health dashboard needs, plus `late`
  ingest_commits              one row per ingest commit, from the events table's snapshot summaries
  ingest_dead_letters         dead letters per commit and reason, from the same summaries

A table that does not exist yet reads as an empty view of the same columns, so a chart shows Superset's
"No results" instead of an error. The settings come from the JSON file named by
$LAKEHOUSE_SUPERSET_CATALOG, which `lakehouse dashboard up` writes (mode 0600: it may hold keys).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import urllib.parse
import urllib.request
from typing import Any, Callable

CONFIG_ENV = "LAKEHOUSE_SUPERSET_CATALOG"
SCHEMA = "lakehouse"

# An event is late when it was ingested more than this after it happened: the metrics job's default
# allowed lateness, after which its window has already been reported complete.
LATE_AFTER = "INTERVAL 10 MINUTE"

# (name, DuckDB type, expression over the Iceberg scan or None when the column may be missing)
METRICS_COLUMNS = [
    ("window_start", "TIMESTAMP"), ("window_end", "TIMESTAMP"), ("campaign_id", "VARCHAR"),
    ("platform", "VARCHAR"), ("country", "VARCHAR"), ("channel", "VARCHAR"),
    ("impressions", "BIGINT"), ("clicks", "BIGINT"), ("conversions", "BIGINT"),
    ("revenue", "DOUBLE"), ("spend", "DOUBLE"), ("complete", "BOOLEAN"), ("processed_at", "TIMESTAMP"),
]
EVENTS_COLUMNS = [
    ("event_time", "TIMESTAMP"), ("processed_at", "TIMESTAMP"), ("event_type", "VARCHAR"),
    ("campaign_id", "VARCHAR"), ("platform", "VARCHAR"), ("country", "VARCHAR"), ("channel", "VARCHAR"),
]
COMMITS_COLUMNS = [
    ("committed_at", "TIMESTAMP"), ("snapshot_id", "BIGINT"), ("consumed", "BIGINT"), ("written", "BIGINT"),
    ("dead_lettered", "BIGINT"), ("duplicates", "BIGINT"),
]
DEAD_LETTERS_COLUMNS = [("committed_at", "TIMESTAMP"), ("reason", "VARCHAR"), ("letters", "BIGINT")]

# Summary keys ingest writes (domain/ingest-summary-keys.ts).
CONSUMED_KEY = "lakehouse.ingest.consumed"
DEAD_LETTERED_KEY = "lakehouse.ingest.dead-lettered"
DUPLICATES_KEY = "lakehouse.ingest.duplicates"
REASON_PREFIX = "lakehouse.ingest.dead-lettered."


class LakehouseViewsError(RuntimeError):
    """A sentence for the Superset chart error (and the log): what failed and what to do."""


def load_config() -> dict[str, Any]:
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise LakehouseViewsError(f"${CONFIG_ENV} is not set; start Superset with `lakehouse dashboard up`, which sets it.")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise LakehouseViewsError(f"cannot read the catalog settings {path} ({e.strerror}); run `lakehouse dashboard up` again.") from e


def q(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


# ---- the catalog: where each table's current metadata file is ----

def sql_locations(cfg: dict[str, Any], tables: list[str]) -> dict[str, str]:
    uri = cfg["uri"]
    if not uri.startswith("sqlite:///"):
        raise LakehouseViewsError(f"the dashboard reads SQL catalogs on SQLite only (got {uri.split(':', 1)[0]}); use the REST catalog for PostgreSQL-backed deployments.")
    path = uri[len("sqlite:///"):]
    # Read-only: Superset must never take the catalog's write lock from under ingest.
    con = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=10)
    try:
        marks = ",".join("?" * len(tables))
        rows = con.execute(
            f"SELECT table_name, metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name IN ({marks})",
            [cfg.get("name", "default"), cfg.get("namespace", SCHEMA), *tables],
        ).fetchall()
    except sqlite3.OperationalError as e:
        raise LakehouseViewsError(f"cannot read the catalog {path}: {e}; is it a lakehouse SQLite catalog?") from e
    finally:
        con.close()
    return {name: loc for name, loc in rows if loc}


_rest_prefix: dict[str, str] = {}


def rest_request(cfg: dict[str, Any], path: str) -> Any:
    url = cfg["uri"].rstrip("/") + path
    headers = {"Accept": "application/json"}
    if cfg.get("token"):
        headers["Authorization"] = f"Bearer {cfg['token']}"
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (the configured catalog URI)
        return json.load(resp)


def rest_locations(cfg: dict[str, Any], tables: list[str]) -> dict[str, str]:
    base = cfg["uri"]
    if base not in _rest_prefix:
        query = "?" + urllib.parse.urlencode({"warehouse": cfg["warehouse"]}) if cfg.get("warehouse") else ""
        conf = rest_request(cfg, "/v1/config" + query)
        prefix = {**conf.get("defaults", {}), **conf.get("overrides", {})}.get("prefix", cfg.get("prefix", ""))
        _rest_prefix[base] = f"/{prefix.strip('/')}" if prefix else ""
    ns = urllib.parse.quote(cfg.get("namespace", SCHEMA), safe="")
    out: dict[str, str] = {}
    for t in tables:
        try:
            body = rest_request(cfg, f"/v1{_rest_prefix[base]}/namespaces/{ns}/tables/{urllib.parse.quote(t, safe='')}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                continue
            if e.code in (401, 403):
                raise LakehouseViewsError(f"the REST catalog {base} refused the dashboard's credentials (HTTP {e.code}); fix the token in the lakehouse config and run `lakehouse dashboard up` again.") from e
            raise
        out[t] = body["metadata-location"]
    return out


def metadata_locations(cfg: dict[str, Any], tables: list[str]) -> dict[str, str]:
    if cfg["type"] == "sql":
        return sql_locations(cfg, tables)
    if cfg["type"] == "rest":
        return rest_locations(cfg, tables)
    raise LakehouseViewsError(f"the dashboard cannot read a {cfg['type']} catalog; use a SQLite or REST catalog.")


# ---- DuckDB ----

def load_extensions(con: Any) -> None:
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_httpfs
    import duckdb_extension_iceberg

    # avro (manifests) and httpfs (s3://) before iceberg, which would otherwise try to download them.
    for module, name in [(duckdb_extension_avro, "avro"), (duckdb_extension_httpfs, "httpfs"), (duckdb_extension_iceberg, "iceberg")]:
        path = os.path.join(os.path.dirname(module.__file__), "extensions", f"v{duckdb.__version__}", f"{name}.duckdb_extension")
        con.execute(f"LOAD {q(path)}")


def s3_secret(con: Any, props: dict[str, str]) -> None:
    options = ["TYPE s3", f"REGION {q(props.get('s3.region') or 'us-east-1')}"]
    if props.get("s3.access-key-id") and props.get("s3.secret-access-key"):
        options += [f"KEY_ID {q(props['s3.access-key-id'])}", f"SECRET {q(props['s3.secret-access-key'])}"]
        if props.get("s3.session-token"):
            options.append(f"SESSION_TOKEN {q(props['s3.session-token'])}")
    endpoint = props.get("s3.endpoint")
    if endpoint:
        url = urllib.parse.urlparse(endpoint)
        path_style = props.get("s3.path-style-access", "false").lower() in ("true", "1", "yes")
        options += [f"ENDPOINT {q(url.netloc)}", f"USE_SSL {'true' if url.scheme == 'https' else 'false'}",
                    f"URL_STYLE {q('path' if path_style else 'vhost')}"]
    con.execute(f"CREATE OR REPLACE SECRET lakehouse_s3 ({', '.join(options)})")


def empty_view(name: str, columns: list[tuple[str, str]]) -> str:
    cols = ", ".join(f"NULL::{t} AS {c}" for c, t in columns)
    return f"CREATE OR REPLACE VIEW {SCHEMA}.{name} AS SELECT {cols} WHERE false"


def scan_view(name: str, columns: list[tuple[str, str]], var: str, present: frozenset[str], extra: str = "") -> str:
    def expr(c: str, t: str) -> str:
        if c not in present:
            return f"NULL::{t} AS {c}"
        return f"{c}::{t} AS {c}" if t == "TIMESTAMP" else c
    cols = ", ".join(expr(c, t) for c, t in columns)
    return f"CREATE OR REPLACE VIEW {SCHEMA}.{name} AS SELECT {cols}{extra} FROM iceberg_scan(getvariable({q(var)}))"


def summary_views(var: str) -> list[str]:
    # Read lazily from the metadata file the catalog points at, so the Campaign Performance queries do not
    # pay for it. History reaches back as far as snapshot expiry keeps it.
    snaps = (f"(SELECT unnest(snapshots) AS s FROM read_json(getvariable({q(var)}), columns = {{'snapshots': 'JSON[]'}}, "
             "maximum_object_size = 1073741824))")
    def key(k: str) -> str:
        return f"CAST(json_extract_string(s, '$.summary.\"{k}\"') AS BIGINT)"
    at = "make_timestamp(CAST(json_extract_string(s, '$.\"timestamp-ms\"') AS BIGINT) * 1000)"
    commits = (f"CREATE OR REPLACE VIEW {SCHEMA}.ingest_commits AS SELECT {at} AS committed_at, "
               f"CAST(json_extract_string(s, '$.\"snapshot-id\"') AS BIGINT) AS snapshot_id, {key(CONSUMED_KEY)} AS consumed, "
               f"coalesce({key('added-records')}, 0) AS written, {key(DEAD_LETTERED_KEY)} AS dead_lettered, "
               f"{key(DUPLICATES_KEY)} AS duplicates FROM {snaps} WHERE json_extract_string(s, '$.summary.\"{CONSUMED_KEY}\"') IS NOT NULL")
    letters = (f"CREATE OR REPLACE VIEW {SCHEMA}.ingest_dead_letters AS SELECT committed_at, substr(k, {len(REASON_PREFIX) + 1}) AS reason, "
               f"CAST(json_extract_string(summary, '$.\"' || k || '\"') AS BIGINT) AS letters FROM ("
               f"SELECT {at} AS committed_at, s -> 'summary' AS summary, unnest(json_keys(s -> 'summary')) AS k FROM {snaps}) "
               f"WHERE starts_with(k, {q(REASON_PREFIX)})")
    return [commits, letters]


_columns_cache: dict[str, frozenset[str]] = {}


def table_columns(con: Any, location: str) -> frozenset[str]:
    # A metadata file never changes once written, so its columns are looked up once per process.
    if location not in _columns_cache:
        if len(_columns_cache) > 1000:
            _columns_cache.clear()
        _columns_cache[location] = frozenset(
            row[0] for row in con.execute(f"DESCRIBE SELECT * FROM iceberg_scan({q(location)})").fetchall())
    return _columns_cache[location]


def variable(table: str) -> str:
    return f"lakehouse_{table}_location"


def define_views(con: Any, locations: dict[str, str | None], columns: dict[str, frozenset[str]], events_table: str, metrics_table: str) -> None:
    """(Re)defines the views on the process's shared database; `con` has the location variables set."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    statements: list[str] = []
    if locations[metrics_table]:
        statements.append(scan_view("campaign_metrics", METRICS_COLUMNS, variable(metrics_table), columns[metrics_table]))
    else:
        statements.append(empty_view("campaign_metrics", METRICS_COLUMNS))
    statements.append(
        f"CREATE OR REPLACE VIEW {SCHEMA}.campaign_metrics_last_15m AS SELECT * FROM {SCHEMA}.campaign_metrics "
        f"WHERE window_start >= (SELECT max(window_end) FROM {SCHEMA}.campaign_metrics) - INTERVAL 15 MINUTE")
    if locations[events_table]:
        late = f", processed_at - event_time > {LATE_AFTER} AS late"
        statements.append(scan_view("campaign_events", EVENTS_COLUMNS, variable(events_table), columns[events_table], late))
        statements.extend(summary_views(variable(events_table)))
    else:
        statements.append(empty_view("campaign_events", EVENTS_COLUMNS + [("late", "BOOLEAN")]))
        statements.append(empty_view("ingest_commits", COMMITS_COLUMNS))
        statements.append(empty_view("ingest_dead_letters", DEAD_LETTERS_COLUMNS))
    for sql in statements:
        con.execute(sql)


# One DuckDB database per Superset process (a named in-memory database: every connection to the same
# name in one process shares it). LOADing the iceberg extension into a fresh database costs ~0.8 s on
# the reference machine, so it happens once per process, not per query; the views are defined once per
# shape (which tables exist, with which columns) and read each table's location from a per-connection
# variable, so two concurrent queries each see the snapshot current when their connection opened.
_shared: dict[str, Any] = {"pid": None, "anchor": None, "shape": None}
_lock = threading.Lock()


def raw_connection(con: Any) -> Any:
    """The duckdb connection inside duckdb-engine's wrapper (or `con` itself)."""
    return getattr(con, "_ConnectionWrapper__c", con)


def install(con: Any, open_anchor: Callable[[], Any], cfg: dict[str, Any] | None = None) -> None:
    """Prepares a new DuckDB connection: the tables' current metadata locations as variables, the views.

    `open_anchor` opens another connection to the same database with the same configuration (DuckDB
    refuses a second connection with a different one); it is called once per process."""
    cfg = cfg if cfg is not None else load_config()
    raw = raw_connection(con)
    metrics_table = cfg.get("metrics_table", "campaign_metrics")
    events_table = cfg.get("events_table", "campaign_events")
    found = metadata_locations(cfg, [metrics_table, events_table])
    locations: dict[str, str | None] = {t: found.get(t) for t in (metrics_table, events_table)}
    with _lock:
        if _shared["pid"] != os.getpid():
            # First connection of this process (or a forked worker): keep a connection of our own open so
            # the shared database, its extensions and views outlive the query connections (a cursor would
            # not: closing a connection closes its cursors).
            anchor = raw_connection(open_anchor())
            load_extensions(anchor)
            _shared.update(pid=os.getpid(), anchor=anchor, shape=None, s3=None)
        anchor = _shared["anchor"]
        # Object storage settings are read again on every connection: `lakehouse dashboard up` may point
        # the running server at another catalog, and a new secret replaces the old one at once.
        s3 = any(str(loc).startswith(("s3://", "s3a://")) for loc in locations.values() if loc)
        props = {k: v for k, v in cfg.get("properties", {}).items() if k.startswith("s3.")}
        if s3 and _shared["s3"] != props:
            s3_secret(anchor, props)
            _shared["s3"] = props
        anchor = _shared["anchor"]
        columns = {t: table_columns(anchor, loc) for t, loc in locations.items() if loc}
        shape = tuple(sorted((t, tuple(sorted(c))) for t, c in columns.items()))
        if shape != _shared["shape"]:
            for t, loc in locations.items():
                if loc:
                    anchor.execute(f"SET VARIABLE {variable(t)} = {q(loc)}")
            define_views(anchor, locations, columns, events_table, metrics_table)
            _shared["shape"] = shape
    raw.execute("SET TimeZone = 'UTC'")
    for t, loc in locations.items():
        if loc:
            raw.execute(f"SET VARIABLE {variable(t)} = {q(loc)}")
