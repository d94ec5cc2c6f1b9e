"""Superset's chart-data cache, keyed by the snapshots a chart reads, so a cached result is never stale.

A chart over the DuckDB views (lakehouse_views.py) is a function of the two tables' current metadata
locations: a location names one snapshot forever, and the views derive everything (the last 15 minutes,
the rollup, the commit history) from those files, not from the clock. So the catalog's current locations
are added to Superset's cache key of every such query: the same snapshot is a hit, a new commit is a new
key and so a miss, with no timeout to wait for. The key also holds a digest of lakehouse_views.py, so a
cache kept in the state folder across an upgrade that changes what the views compute is not read.

Superset's own work for a chart-data call (permission checks, ORM, query building, pandas, JSON) is
~100 ms CPU whatever DuckDB does; ten viewers refreshing a ten-chart dashboard every 10 s ask for the same
ten results at one snapshot, so all but the first of each are answered from the cache (a hit measured
~50 ms CPU: the request handling and permission checks remain).

Any other query is neither read from nor written to the cache (Superset's "cache disabled" timeout): one
that names the clock, chance or Jinja (the freshness metric is now minus the newest event), a virtual
dataset (its SQL may read anything), a dataset outside schema `lakehouse`, or another database (Trino has
no per-snapshot key here).

Superset 6.1 has no setting for a data-dependent cache key besides Jinja in a virtual dataset's SQL; the
datasets here are physical (the views), so `install()` wraps the three methods of QueryContextProcessor that
answer a query, decide its key and its timeout. Answering a cacheable query also records the request for the
warmer and holds the query's single-flight lock (chart_warmer.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import chart_warmer
import lakehouse_views

# Superset's timeout that means "do not read or write the cache" (superset.constants.CACHE_DISABLED_TIMEOUT).
CACHE_DISABLED_TIMEOUT = -1

with open(lakehouse_views.__file__, "rb") as _f:
    VIEWS_DIGEST = hashlib.sha256(_f.read()).hexdigest()[:16]


# What makes a query's answer depend on more than the snapshots: the clock (the health dashboard's
# freshness is now minus the newest event), chance, or Jinja (which may read the user, the request, the clock).
VOLATILE = re.compile(r"\b(current_timestamp|current_date|current_time|localtimestamp|localtime|now|today|"
                      r"get_current_time|random|uuid|gen_random_uuid)\b|\{\{|\{%", re.IGNORECASE)


def cacheable(datasource: Any, query: dict[str, Any]) -> bool:
    """A physical dataset of the views' schema on a DuckDB database, and a query (Superset's QueryObject
    as a dict) whose SQL, saved metrics and calculated columns name nothing volatile: its result then
    depends on the snapshots only."""
    database = getattr(datasource, "database", None)
    if (getattr(database, "backend", None) != "duckdb" or getattr(datasource, "sql", None)
            or getattr(datasource, "schema", None) != lakehouse_views.SCHEMA):
        return False
    named = {m for m in query.get("metrics") or [] if isinstance(m, str)}
    texts = [json.dumps(query, default=str)]
    texts += [m.expression or "" for m in getattr(datasource, "metrics", []) if m.metric_name in named]
    texts += [c.expression or "" for c in getattr(datasource, "columns", []) if c.expression]
    return not any(VOLATILE.search(t) for t in texts)


def snapshot_key(cfg: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the views read right now: each table's current metadata location (None: no such table yet)."""
    cfg = cfg if cfg is not None else lakehouse_views.load_config()
    tables = [cfg.get("metrics_table", "campaign_metrics"), cfg.get("events_table", "campaign_events")]
    found = lakehouse_views.metadata_locations(cfg, tables)
    return {"views": VIEWS_DIGEST, "catalog": cfg.get("uri"), "namespace": cfg.get("namespace", lakehouse_views.SCHEMA),
            "locations": {t: found.get(t) for t in tables}}


def install(state_dir: str) -> None:
    from superset.common.query_context_processor import QueryContextProcessor

    original_payload = QueryContextProcessor.get_df_payload
    original_key = QueryContextProcessor.query_cache_key
    original_timeout = QueryContextProcessor.get_cache_timeout

    # A processor handles its request's queries one after another: the query being answered decides.
    def get_df_payload(self: Any, query_obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.lakehouse_cacheable = bool(query_obj) and cacheable(self._qc_datasource, query_obj.to_dict())
        # The catalog is asked once per query (a REST catalog answers with whole metadata files): the lock
        # and the cache key name the same snapshots.
        self.lakehouse_snapshots = snapshot_key() if self.lakehouse_cacheable else None
        try:
            if not self.lakehouse_cacheable or self._query_context.force:
                return original_payload(self, query_obj, *args, **kwargs)
            chart_warmer.record(state_dir)
            identity = json.dumps({"query": query_obj.to_dict(), "datasource": self._qc_datasource.uid,
                                   "snapshots": self.lakehouse_snapshots}, sort_keys=True, default=str)
            # An identical query already running: wait for it, then read what it cached.
            with chart_warmer.single_flight(state_dir, identity):
                return original_payload(self, query_obj, *args, **kwargs)
        finally:
            self.lakehouse_cacheable = False
            self.lakehouse_snapshots = None

    def query_cache_key(self: Any, query_obj: Any, **kwargs: Any) -> str | None:
        if getattr(self, "lakehouse_cacheable", False):
            # The resolved time bounds too: Superset keys a relative range ("Last day") by its text.
            kwargs["lakehouse_snapshots"] = {**(self.lakehouse_snapshots or snapshot_key()), "from": str(query_obj.from_dttm), "to": str(query_obj.to_dttm)}
        return original_key(self, query_obj, **kwargs)

    def get_cache_timeout(self: Any) -> int:
        # Disabled: Superset neither reads nor writes the cache for the query.
        return original_timeout(self) if getattr(self, "lakehouse_cacheable", False) else CACHE_DISABLED_TIMEOUT

    QueryContextProcessor.get_df_payload = get_df_payload  # type: ignore[method-assign]
    QueryContextProcessor.query_cache_key = query_cache_key  # type: ignore[method-assign]
    QueryContextProcessor.get_cache_timeout = get_cache_timeout  # type: ignore[method-assign]


def cache_config(state_dir: str) -> dict[str, Any]:
    """A file cache in the state folder: shared by all gunicorn workers (an in-process cache would miss once
    per worker) and kept across restarts, where the key keeps it exact."""
    return {
        "CACHE_TYPE": "FileSystemCache",
        "CACHE_DIR": os.path.join(state_dir, "chart-cache"),
        # Only how long an entry may take space: a key never goes stale.
        "CACHE_DEFAULT_TIMEOUT": 24 * 3600,
        # Ten charts per snapshot of each dashboard; the oldest are pruned beyond this many files.
        "CACHE_THRESHOLD": 2000,
    }
