"""Prepares Superset's metadata database for `lakehouse dashboard up`, in one process (each `superset`
CLI call pays ~10 s of start-up on two cores): `db upgrade`, `init` (roles), the `admin` and `viewer`
users with the passwords from secrets.json, and the import of the bundle (overwrite: re-importing
replaces every object in place, keyed by uuid, so it changes nothing when the bundle did not change).
With a trino:// database URI the datasets become Trino SQL over the catalog's tables (trino_datasets.py).

Run with SUPERSET_CONFIG_PATH and LAKEHOUSE_SUPERSET_STATE set; argv: BUNDLE_DIR [--database-uri URI].
Prints one JSON line: the dashboards (id, title, slug) and the database URI imported.
"""
from __future__ import annotations

import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bundle  # noqa: E402

VIEWER_ROLE = "Lakehouse Viewer"


def main(argv: list[str]) -> None:
    bundle_dir = argv[0]
    database_uri = argv[argv.index("--database-uri") + 1] if "--database-uri" in argv else None
    state = os.environ["LAKEHOUSE_SUPERSET_STATE"]
    with open(os.path.join(state, "secrets.json"), encoding="utf-8") as f:
        secrets = json.load(f)

    logging.disable(logging.WARNING)
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        import superset
        from flask import g
        from flask_migrate import upgrade
        from superset import security_manager as sm
        from superset.extensions import appbuilder
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.extensions import db
        from superset.models.core import Database
        from superset.models.dashboard import Dashboard
        from werkzeug.security import check_password_hash, generate_password_hash

        upgrade(directory=os.path.join(os.path.dirname(superset.__file__), "migrations"))
        # `superset init`: every view's permissions, then the built-in roles (Admin, Gamma, ...) from them.
        appbuilder.add_permissions(update_perms=True)
        sm.sync_role_definitions()

        def ensure_user(name: str, roles: list[str], password: str) -> object:
            role_objs = [sm.find_role(r) for r in roles]
            user = sm.find_user(username=name)
            if user is None:
                user = sm.add_user(name, name, "lakehouse", f"{name}@lakehouse.invalid", role_objs, password)
                if not user:
                    raise SystemExit(f"could not create the Superset user {name}")
                return user
            # secrets.json is the truth: a password changed in the UI is set back on the next up.
            if not check_password_hash(user.password, password):
                user.password = generate_password_hash(password)
            user.roles = role_objs
            user.active = True
            db.session.commit()
            return user

        admin = ensure_user("admin", ["Admin"], secrets["admin_password"])
        dataset_sql, schema = None, None
        if database_uri and database_uri.startswith("trino"):
            import trino_datasets
            with open(os.environ["LAKEHOUSE_SUPERSET_CATALOG"], encoding="utf-8") as f:
                catalog = json.load(f)
            dataset_sql, schema = trino_datasets.from_uri(database_uri, catalog), catalog.get("namespace")
        contents = bundle.build(bundle_dir, database_uri, dataset_sql, schema)
        # The assets importer (metadata type `assets`), not the dashboard one: the dashboard importer
        # overwrites the dashboards only and keeps an existing database, datasets and charts as they are,
        # so a changed database URI or dataset would never reach a Superset that already has them.
        with app.test_request_context():
            g.user = admin
            ImportAssetsCommand(contents).run()

        # The viewer reads the lakehouse database's datasets and dashboards (Gamma: no SQL Lab, no
        # editing of dashboards it does not own).
        database = db.session.query(Database).filter_by(database_name="lakehouse").one()
        role = sm.find_role(VIEWER_ROLE) or sm.add_role(VIEWER_ROLE)
        perm = sm.add_permission_view_menu("database_access", database.perm)
        if perm not in role.permissions:
            sm.add_permission_role(role, perm)
        ensure_user("viewer", ["Gamma", VIEWER_ROLE], secrets["viewer_password"])
        db.session.commit()

        uuids = {d["uuid"] for p, d in bundle.load(bundle_dir).items() if p.startswith("dashboards/")}
        dashboards = [
            {"id": d.id, "title": d.dashboard_title, "slug": d.slug}
            for d in db.session.query(Dashboard).all() if str(d.uuid) in uuids
        ]
        print(json.dumps({"dashboards": sorted(dashboards, key=lambda d: d["id"]), "database_uri": database.sqlalchemy_uri}))


if __name__ == "__main__":
    main(sys.argv[1:])
