"""Superset in a container (docker-compose.yml's `superset` service): what `lakehouse dashboard up` does
natively (dashboard/superset.ts), in the foreground, from environment variables.

1. The state folder ($LAKEHOUSE_SUPERSET_STATE, a volume): secrets.json with a generated SECRET_KEY and the
   admin and viewer passwords on the first start (mode 0600, kept afterwards; read them with
   `docker compose exec superset cat /var/lib/superset/secrets.json`), and catalog.json, where the tables
   are (the REST catalog, the namespace and table names, the s3.* settings).
2. provision.py: metadata upgrade, users, the bundle imported with $LAKEHOUSE_SUPERSET_DATABASE_URI (Trino
   in the stack); retried while Trino or the catalog is still starting.
3. gunicorn in the foreground (the container's process), on all interfaces of the container
   ($LAKEHOUSE_SUPERSET_HOST): Compose publishes the port on 127.0.0.1 only.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise SystemExit(f"superset container: {name} is not set; docker-compose.yml's superset service sets it.")
    return value


def write_private(path: str, data: dict[str, object]) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def prepare_state(state: str) -> None:
    os.makedirs(state, mode=0o700, exist_ok=True)
    secrets_file = os.path.join(state, "secrets.json")
    if not os.path.exists(secrets_file):
        write_private(secrets_file, {"secret_key": secrets.token_urlsafe(48), "admin_password": secrets.token_urlsafe(18),
                                     "viewer_password": secrets.token_urlsafe(18)})
    table = env("LAKEHOUSE_METRICS_TABLE", "lakehouse.campaign_metrics")
    events = env("LAKEHOUSE_EVENTS_TABLE", "lakehouse.campaign_events")
    namespace, metrics_name = table.rsplit(".", 1)
    events_namespace, events_name = events.rsplit(".", 1)
    if events_namespace != namespace:
        raise SystemExit(f"superset container: LAKEHOUSE_METRICS_TABLE and LAKEHOUSE_EVENTS_TABLE must be in one namespace (got {namespace} and {events_namespace}).")
    properties = {key: os.environ[var] for key, var in [
        ("s3.endpoint", "LAKEHOUSE_S3_ENDPOINT"), ("s3.access-key-id", "LAKEHOUSE_S3_ACCESS_KEY"),
        ("s3.secret-access-key", "LAKEHOUSE_S3_SECRET_KEY"), ("s3.region", "LAKEHOUSE_S3_REGION")] if os.environ.get(var)}
    properties["s3.path-style-access"] = "true"
    write_private(os.path.join(state, "catalog.json"), {
        "name": "default", "type": "rest", "uri": env("LAKEHOUSE_REST_URI"), "namespace": namespace,
        "metrics_table": metrics_name, "events_table": events_name, "properties": properties})


def provision(database_uri: str, attempts: int = 30) -> None:
    args = [sys.executable, os.path.join(HERE, "provision.py"), os.path.join(HERE, "bundle"), "--database-uri", database_uri]
    for attempt in range(1, attempts + 1):
        if subprocess.run(args, check=False).returncode == 0:
            return
        print(f"superset container: provisioning failed (attempt {attempt} of {attempts}); retrying in 10 s", file=sys.stderr, flush=True)
        time.sleep(10)
    raise SystemExit(f"superset container: provisioning failed {attempts} times; see the messages above.")


def main() -> None:
    state = env("LAKEHOUSE_SUPERSET_STATE", "/var/lib/superset")
    os.environ.setdefault("LAKEHOUSE_SUPERSET_CATALOG", os.path.join(state, "catalog.json"))
    os.environ.setdefault("SUPERSET_CONFIG_PATH", os.path.join(HERE, "superset_config.py"))
    prepare_state(state)
    provision(env("LAKEHOUSE_SUPERSET_DATABASE_URI"))
    port = env("LAKEHOUSE_SUPERSET_PORT", "8088")
    # All of the container's interfaces (Compose publishes the port on 127.0.0.1 only); run outside a
    # container, set LAKEHOUSE_SUPERSET_HOST=127.0.0.1.
    host = env("LAKEHOUSE_SUPERSET_HOST", "0.0.0.0")  # noqa: S104
    os.chdir(state)
    # The chart warmer (chart_warmer.py) asks this server for each new snapshot's charts.
    os.environ["LAKEHOUSE_SUPERSET_WARM_URL"] = f"http://127.0.0.1:{port}"
    os.execvp("gunicorn", ["gunicorn", "--bind", f"{host}:{port}", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                           "--timeout", "120", "--keep-alive", "75", "--name", "lakehouse-superset", "superset.app:create_app()"])


if __name__ == "__main__":
    main()
