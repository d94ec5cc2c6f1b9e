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

# Every chart query reads the catalog's current snapshot: a result cache would show an older one for
# its timeout. The dashboard refreshes every 10 s, and a query over campaign_metrics takes milliseconds.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

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


# Superset's pages load a tracking pixel from scarf.sh; the dashboards stay on this machine, so the
# content security policy no longer allows it (the browser does not even try).
def _without_scarf(policy: dict) -> dict:
    csp = dict(policy["content_security_policy"])
    csp["img-src"] = [src for src in csp["img-src"] if "scarf.sh" not in src]
    return {**policy, "content_security_policy": csp}


from superset.config import TALISMAN_CONFIG as _TALISMAN_DEFAULT  # noqa: E402

TALISMAN_CONFIG = _without_scarf(_TALISMAN_DEFAULT)
