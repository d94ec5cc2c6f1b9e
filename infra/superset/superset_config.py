"""Superset's configuration for `lakehouse dashboard` (found through SUPERSET_CONFIG_PATH).

Everything per deployment comes from the state folder that `lakehouse dashboard up` prepares and names
in $LAKEHOUSE_SUPERSET_STATE: the metadata database (SQLite), and secrets.json (mode 0600) with the
SECRET_KEY generated on the first start. Nothing secret is in this file or in the environment.
"""
import json
import os
import sys

STATE_DIR = os.environ["LAKEHOUSE_SUPERSET_STATE"]
with open(os.path.join(STATE_DIR, "secrets.json"), encoding="utf-8") as _f:
    SECRET_KEY = json.load(_f)["secret_key"]

SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(STATE_DIR, "superset.db")

# CSRF protection stays on for the web forms; the REST API takes a bearer token or a session plus
# X-CSRFToken, as upstream.
WTF_CSRF_ENABLED = True

# Superset's action log writes six rows (six SQLite commits) for every chart-data call: timings of its
# steps. Ten viewers refreshing a ten-chart dashboard every 10 s is 60 commits a second on a file the
# workers share, each one locking out the other workers' reads of the dashboards and charts. Those six
# timing actions are left out; everything else (logins, dashboard views, edits) is still logged.
from superset.utils.log import DBEventLogger  # noqa: E402

CHART_DATA_TIMINGS = frozenset({"ChartDataRestApi.data", "_get_data_response", "ChartDataRestApi.json_dumps",
                                "load_into_dataframe", "execute_sql", "QueryObject.post_processing"})


class LakehouseEventLogger(DBEventLogger):
    def log(self, user_id, action, *args, **kwargs):  # type: ignore[no-untyped-def]
        if action not in CHART_DATA_TIMINGS:
            super().log(user_id, action, *args, **kwargs)


EVENT_LOGGER = LakehouseEventLogger()

# No example data, no telemetry, no outbound calls: the dashboards run offline.
SUPERSET_LOAD_EXAMPLES = False
SCARF_ANALYTICS = False
MAPBOX_API_KEY = ""

# The views over the Iceberg tables are defined on each new DuckDB connection (lakehouse_views.py).
# A listener on duckdb-engine's dialect class sees every DuckDB connection Superset opens (chart
# queries, SQL Lab, the dataset editor); other databases pass untouched, so a Trino or PostgreSQL
# database added beside it is unaffected.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import copy  # noqa: E402

import duckdb_engine  # noqa: E402
from sqlalchemy import event  # noqa: E402

import lakehouse_views  # noqa: E402


@event.listens_for(duckdb_engine.Dialect, "do_connect")
def _lakehouse_connect(dialect, _record, cargs, cparams):  # type: ignore[no-untyped-def]
    pristine = copy.deepcopy(cparams)
    con = dialect.connect(*cargs, **cparams)
    lakehouse_views.install(con, lambda: dialect.connect(*cargs, **copy.deepcopy(pristine)))
    return con


# The DuckDB database's queries that the per-snapshot rollup of the metrics table answers exactly (sums
# per window and campaign, no dimension) read it instead of the Iceberg files; everything else, and any
# other database (Trino has no rollup views), passes unchanged. It runs before the connection opens, and
# the connection's views then name the rollup of the snapshot current at that moment.
def SQL_QUERY_MUTATOR(sql: str, **kwargs: object) -> str:  # noqa: N802 (Superset's name)
    database = kwargs.get("database")
    return lakehouse_views.route(sql) if getattr(database, "backend", None) == "duckdb" else sql


# Chart results are cached under a key holding each table's current metadata location (snapshot_cache.py):
# exact for that snapshot, a miss after any commit, and shared by the workers through the state folder.
# Query building, DuckDB and pandas are then paid once per chart and snapshot instead of once per viewer
# and refresh (a hit still costs ~50 ms CPU of request handling, against ~100 ms for a miss).
import snapshot_cache  # noqa: E402

DATA_CACHE_CONFIG = snapshot_cache.cache_config(STATE_DIR)

# The dashboard's auto-refresh reads through that cache ("fetch") instead of bypassing it ("force",
# Superset's default): with the snapshot in the key, fetch is never older than force would be.
DASHBOARD_AUTO_REFRESH_MODE = "fetch"


# Each new snapshot's chart results are computed once, right after the commit and before the viewers' next
# refresh, by replaying the chart-data requests viewers made lately; identical queries never run twice at
# once (chart_warmer.py).
import chart_warmer  # noqa: E402


def FLASK_APP_MUTATOR(app: object) -> None:  # noqa: N802 (Superset's name)
    # After the app is created: Superset's modules cannot be imported while its configuration loads.
    snapshot_cache.install(STATE_DIR)
    chart_warmer.start(app, STATE_DIR, snapshot_cache.snapshot_key)


# Superset's pages load a tracking pixel from scarf.sh; the dashboards stay on this machine, so the
# content security policy no longer allows it (the browser does not even try).
def _without_scarf(policy: dict) -> dict:
    csp = dict(policy["content_security_policy"])
    csp["img-src"] = [src for src in csp["img-src"] if "scarf.sh" not in src]
    return {**policy, "content_security_policy": csp}


from superset.config import TALISMAN_CONFIG as _TALISMAN_DEFAULT  # noqa: E402

TALISMAN_CONFIG = _without_scarf(_TALISMAN_DEFAULT)
