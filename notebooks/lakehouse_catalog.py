"""Open the catalog the lakehouse CLI opens, with PyIceberg.

The same configuration, merged the same way (later wins): the JSON config file ($LAKEHOUSE_CONFIG, else
./lakehouse.config.json) < LAKEHOUSE_CATALOG__<NAME>__<KEY> environment variables; the catalog named by
LAKEHOUSE_DEFAULT_CATALOG, else the file's "default-catalog", else "default", which falls back to the
CLI's embedded default: SQLite at ./warehouse/catalog.db with the warehouse in ./warehouse.

Relative paths are relative to the project folder: the working directory, or its parent when a notebook
runs from notebooks/ (Jupyter's working directory) and the parent holds the config file or ./warehouse.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

CONFIG_FILE_ENV = "LAKEHOUSE_CONFIG"
DEFAULT_CATALOG_ENV = "LAKEHOUSE_DEFAULT_CATALOG"
CATALOG_ENV_PREFIX = "lakehouse_catalog__"
DEFAULT_CONFIG_FILE = "lakehouse.config.json"
DEFAULT_CATALOG_NAME = "default"
SECRET_KEYS = re.compile(r"(secret|password|token|credential|session)", re.I)


@dataclass
class CatalogConfig:
    name: str
    properties: dict
    base_dir: Path
    config_file: Optional[Path] = None

    def describe(self) -> str:
        """One line saying which catalog this is, with secrets hidden."""
        shown = {k: ("***" if SECRET_KEYS.search(k) else v) for k, v in sorted(self.properties.items())}
        source = f"from {self.config_file}" if self.config_file else "(no config file: the CLI's default)"
        return f"catalog '{self.name}' {source}: {json.dumps(shown)}"

    def local_warehouse(self) -> Optional[Path]:
        """The warehouse folder when it is on this machine, else None (s3://...)."""
        wh = self.properties.get("warehouse", "")
        if wh.startswith("file://"):
            return Path(wh[len("file://"):])
        if "://" not in wh and wh:
            return Path(wh)
        return None


def project_dir(cwd: Optional[Path] = None, env: Optional[Mapping[str, str]] = None) -> Path:
    cwd = Path(cwd or os.getcwd()).resolve()
    env = os.environ if env is None else env
    here = lambda d: (d / DEFAULT_CONFIG_FILE).exists() or (d / "warehouse").is_dir()  # noqa: E731
    if env.get(CONFIG_FILE_ENV) or here(cwd) or not here(cwd.parent):
        return cwd
    return cwd.parent


def _flatten(obj: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in obj.items():
        key = prefix + k.lower()
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, bool):
            out[key] = "true" if v else "false"
        elif v is not None:
            out[key] = str(v)
    return out


def _from_environment(env: Mapping[str, str]) -> dict:
    out: dict = {}
    for raw, value in env.items():
        key = raw.lower()
        if not key.startswith(CATALOG_ENV_PREFIX):
            continue
        rest = key[len(CATALOG_ENV_PREFIX):]
        sep = rest.find("__")
        if sep <= 0 or sep + 2 >= len(rest):
            continue
        name = rest[:sep].replace("_", "-")
        prop = ".".join(p.replace("_", "-") for p in rest[sep + 2:].split("__"))
        out.setdefault(name, {})[prop] = value
    return out


def resolve_config(name: Optional[str] = None, config_file: Optional[str] = None,
                   env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None) -> CatalogConfig:
    """The merged properties of one catalog, as `lakehouse --catalog NAME` resolves them."""
    env = os.environ if env is None else env
    base = project_dir(cwd, env)
    explicit = config_file or env.get(CONFIG_FILE_ENV) or None
    path = (base / (explicit or DEFAULT_CONFIG_FILE)).resolve()
    file_conf: dict = {}
    default_name = None
    if path.exists():
        top = {k.lower(): v for k, v in json.loads(path.read_text()).items()}
        file_conf = {n.lower(): _flatten(c) for n, c in (top.get("catalogs") or {}).items()}
        default_name = top.get("default-catalog")
    elif explicit:
        raise FileNotFoundError(f"Config file {path} does not exist; check {CONFIG_FILE_ENV}.")
    else:
        path = None
    env_conf = _from_environment(env)
    name = name or env.get(DEFAULT_CATALOG_ENV) or default_name or DEFAULT_CATALOG_NAME
    key = name.lower()
    if key not in file_conf and key not in env_conf and key != DEFAULT_CATALOG_NAME:
        known = sorted(set(file_conf) | set(env_conf))
        raise KeyError(f"Catalog '{name}' is not configured; configured catalogs: {', '.join(known) or 'none'}.")
    props = {}
    if key == DEFAULT_CATALOG_NAME:
        props = {"type": "sql", "uri": "sqlite:///" + str(base / "warehouse" / "catalog.db"), "warehouse": str(base / "warehouse")}
    props.update(file_conf.get(key, {}))
    props.update(env_conf.get(key, {}))
    if "type" not in props and props.get("uri"):
        props["type"] = "rest" if re.match(r"https?://", props["uri"], re.I) else "sql"
    return CatalogConfig(name=name, properties=props, base_dir=base, config_file=path)


def pyiceberg_properties(config: CatalogConfig) -> dict:
    """The CLI's properties in the spelling PyIceberg takes: absolute SQLAlchemy URIs, file:// warehouses."""
    props = dict(config.properties)
    if props.get("type") == "sql":
        uri = props.get("uri", "")
        if uri.startswith("jdbc:sqlite:"):
            uri = "sqlite:///" + uri[len("jdbc:sqlite:"):]
        elif uri.startswith("jdbc:postgresql://"):
            user, password = props.pop("jdbc.user", ""), props.pop("jdbc.password", "")
            auth = f"{user}:{password}@" if user else ""
            uri = "postgresql://" + auth + uri[len("jdbc:postgresql://"):]
        elif "://" not in uri and not uri.startswith("sqlite:"):
            uri = "sqlite:///" + uri
        if uri.startswith("sqlite:///"):
            path = uri[len("sqlite:///"):]
            uri = "sqlite:///" + str((config.base_dir / path).resolve()) if not path.startswith("/") else uri
        props["uri"] = uri
    warehouse = props.get("warehouse", "")
    if warehouse and "://" not in warehouse and props.get("type") != "rest":
        props["warehouse"] = "file://" + str((config.base_dir / warehouse).resolve())
    return props


def load_catalog(config: Optional[CatalogConfig] = None):
    """A PyIceberg catalog on the same tables the CLI sees."""
    from pyiceberg.catalog import load_catalog as pyiceberg_load_catalog

    config = config or resolve_config()
    return pyiceberg_load_catalog(config.name, **pyiceberg_properties(config))
