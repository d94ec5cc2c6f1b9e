"""Reads (and, for the reverse direction, writes) Iceberg tables with readers we did not write.

Readers: PyIceberg through the same SQLite catalog file (SqlCatalog), and DuckDB's iceberg extension
(`iceberg_scan` on a metadata file). Rows come out in the canonical encoding that
tests/interop/canonical.ts produces for the rows we wrote, so a test compares two lists of strings.

Canonical encoding (keep in step with canonical.ts):
  boolean -> true/false        int, long, date (days), time (micros), timestamp(tz) (micros, UTC) -> "123"
  float, double -> 16 hex digits of the IEEE-754 bits of the value as a double, NaN -> "NaN"
  decimal -> unscaled integer at the column's scale   string -> itself   uuid -> lower 8-4-4-4-12
  binary, fixed -> lower-case hex   struct -> object by field name   list -> array
  map -> [[key, value], ...] sorted by the JSON text of the key   null -> null
A row is an object keyed by top-level column name in schema order; JSON text is compact with
non-ASCII kept as is (what JSON.stringify gives). Lines are sorted by code point (= UTF-8 bytes).

Usage (JSON on stdout; an error is one line on stderr and exit status 1):
  verify.py read --reader pyiceberg --catalog-uri sqlite:////abs/catalog.db --warehouse file:///abs/wh
            --table ns.t [--snapshot-id N | --as-of-ms T] [--filter "<pyiceberg row filter>"]
  verify.py read --reader duckdb --metadata /abs/metadata/00003-x.metadata.json
            [--snapshot-id N | --as-of-ms T]
  verify.py metadata --reader pyiceberg (--catalog-uri U --warehouse W --table ns.t | --metadata PATH)
  verify.py read|metadata --reader pyiceberg --rest-uri http://host:8181 --table ns.t  (REST catalog)
  verify.py read|metadata --reader pyiceberg --glue-endpoint http://host:5000 --table db.t  (Glue catalog)
  verify.py write --catalog-uri U --warehouse W --table ns.t --schema schema.json
            [--partition '[{"source": "col", "transform": "day", "name": "col_day"}]' | @file]
            --rows rows.ndjson [--mode append|overwrite] [--format-version 2] [--property k=v ...]
Catalog commands also take --catalog-name (default "default": the catalog_name column SqlCatalog
matches). Every command takes --catalog-property k=v (repeatable) for the catalog and FileIO, e.g.
s3.endpoint / s3.access-key-id / s3.secret-access-key / s3.region for tables on MinIO; the duckdb
reader turns the s3.* ones (else AWS_* variables) into a DuckDB S3 secret (httpfs loaded for s3://).
`read --reader pyiceberg --metadata PATH` reads a metadata file without the catalog.
Set VERIFY_TRACEBACK=1 for a Python traceback on errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import os
import struct
import sys
import uuid
from typing import Any

EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH_NAIVE = dt.datetime(1970, 1, 1)
EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MICRO = dt.timedelta(microseconds=1)


class UsageError(Exception):
    """A problem with the command line or its inputs: reported as one sentence, exit 1."""


def dumps(obj: Any) -> str:
    # Same text as JavaScript's JSON.stringify for the values we emit (strings, booleans, null,
    # arrays, objects): compact separators, non-ASCII unescaped, control characters as \uXXXX.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Canonical encoding of Python values (from pyarrow `to_pylist` or PyIceberg's internal values)
# ---------------------------------------------------------------------------------------------


def canon_double(v: Any) -> str:
    f = float(v)
    if math.isnan(f):
        return "NaN"
    return struct.pack(">d", f).hex()


def canon_decimal(v: Any, scale: int) -> str:
    if isinstance(v, int):  # some readers hand back the unscaled value already
        return str(v)
    d = v if isinstance(v, decimal.Decimal) else decimal.Decimal(str(v))
    # Exact, no context rounding (the default context keeps 28 digits, decimal(38, s) needs 38).
    sign, digits, exponent = d.as_tuple()
    if not isinstance(exponent, int):
        raise UsageError(f"decimal value {d} is not finite")
    n = int("".join(map(str, digits)) or "0")
    shift = exponent + scale
    if shift >= 0:
        n *= 10**shift
    else:
        n, rest = divmod(n, 10**-shift)
        if rest:
            raise UsageError(f"decimal value {d} has more fractional digits than the column scale {scale}")
    return str(-n if sign else n)


def canon_micros_of_day(v: Any) -> str:
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.timedelta):
        return str(v // MICRO)
    if isinstance(v, dt.time):
        return str(((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond)
    raise UsageError(f"cannot read a time from {type(v).__name__} {v!r}")


def canon_timestamp(v: Any) -> str:
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.datetime):
        # timedelta floor division is exact integer arithmetic; an aware value is converted to UTC.
        return str((v - (EPOCH_UTC if v.tzinfo is not None else EPOCH_NAIVE)) // MICRO)
    raise UsageError(f"cannot read a timestamp from {type(v).__name__} {v!r}")


def canon_date(v: Any) -> str:
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.datetime):
        v = v.date()
    if isinstance(v, dt.date):
        return str((v - EPOCH_DATE).days)
    raise UsageError(f"cannot read a date from {type(v).__name__} {v!r}")


def canon_uuid(v: Any) -> str:
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (bytes, bytearray)) and len(v) == 16:
        return str(uuid.UUID(bytes=bytes(v)))
    if isinstance(v, str):
        return str(uuid.UUID(v))
    raise UsageError(f"cannot read a uuid from {type(v).__name__} {v!r}")


def canon_bytes(v: Any) -> str:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return v.bytes.hex()
    raise UsageError(f"cannot read bytes from {type(v).__name__} {v!r} (a reader returned text for a binary column?)")


def canon_value(t: Any, v: Any) -> Any:
    """Canonical form of one Python value of Iceberg type `t` (a pyiceberg IcebergType)."""
    from pyiceberg import types as T

    if v is None:
        return None
    if isinstance(t, T.BooleanType):
        return bool(v)
    if isinstance(t, (T.IntegerType, T.LongType)):
        return str(int(v))
    if isinstance(t, (T.FloatType, T.DoubleType)):
        return canon_double(v)
    if isinstance(t, T.DecimalType):
        return canon_decimal(v, t.scale)
    if isinstance(t, T.DateType):
        return canon_date(v)
    if isinstance(t, T.TimeType):
        return canon_micros_of_day(v)
    if isinstance(t, (T.TimestampType, T.TimestamptzType)):
        return canon_timestamp(v)
    if isinstance(t, T.StringType):
        return v if isinstance(v, str) else bytes(v).decode("utf-8")
    if isinstance(t, T.UUIDType):
        return canon_uuid(v)
    if isinstance(t, (T.BinaryType, T.FixedType)):
        return canon_bytes(v)
    if isinstance(t, T.StructType):
        if isinstance(v, dict):
            return {f.name: canon_value(f.field_type, v.get(f.name)) for f in t.fields}
        return {f.name: canon_value(f.field_type, v[i]) for i, f in enumerate(t.fields)}  # pyiceberg Record
    if isinstance(t, T.ListType):
        return [canon_value(t.element_type, e) for e in v]
    if isinstance(t, T.MapType):
        pairs = v.items() if isinstance(v, dict) else v
        out = [[canon_value(t.key_type, k), canon_value(t.value_type, x)] for k, x in pairs]
        out.sort(key=lambda kv: dumps(kv[0]))
        return out
    raise UsageError(f"unsupported Iceberg type {t}")


# ---------------------------------------------------------------------------------------------
# Canonical encoding of Arrow columns. Temporal columns are read as their integer storage so the
# values are exact and never limited to Python datetime's year range; the rest goes through
# canon_value, which accepts the representations different readers choose (uuid as text, bytes or
# extension type; map as a list of pairs).
# ---------------------------------------------------------------------------------------------

_UNIT_TO_MICROS = {"s": (1_000_000, 1), "ms": (1_000, 1), "us": (1, 1), "ns": (1, 1_000)}


def _ints_in_micros(arr: Any, unit: str) -> list[int | None]:
    import pyarrow as pa

    mul, div = _UNIT_TO_MICROS[unit]
    width = pa.int32() if pa.types.is_time32(arr.type) else pa.int64()
    out = []
    for x in arr.cast(width).to_pylist():
        if x is None:
            out.append(None)
        elif div == 1:
            out.append(x * mul)
        else:
            q, r = divmod(x, div)
            if r:
                raise UsageError(f"reader returned nanosecond value {x} that is not a whole microsecond")
            out.append(q)
    return out


def canon_arrow(t: Any, arr: Any) -> list[Any]:
    """Canonical values of one Arrow array (not chunked) whose Iceberg type is `t`."""
    import pyarrow as pa
    from pyiceberg import types as T

    at = arr.type
    if isinstance(at, pa.ExtensionType) and not isinstance(t, T.UUIDType):
        arr = arr.storage
        at = arr.type
    valid = arr.is_valid().to_pylist()

    def masked(values: list[Any]) -> list[Any]:
        return [x if ok else None for x, ok in zip(values, valid)]

    if isinstance(t, (T.TimestampType, T.TimestamptzType)) and pa.types.is_timestamp(at):
        # Integer storage of an Arrow timestamp is UTC whatever its tz label says.
        return [None if x is None else str(x) for x in _ints_in_micros(arr, at.unit)]
    if isinstance(t, T.TimeType) and (pa.types.is_time64(at) or pa.types.is_time32(at)):
        return [None if x is None else str(x) for x in _ints_in_micros(arr, at.unit)]
    if isinstance(t, T.DateType) and pa.types.is_date32(at):
        return [None if x is None else str(x) for x in arr.cast(pa.int32()).to_pylist()]
    if isinstance(t, T.StructType) and pa.types.is_struct(at):
        names = [at.field(i).name for i in range(at.num_fields)]
        cols = {}
        for f in t.fields:
            if f.name not in names:
                raise UsageError(f"reader returned struct without field {f.name!r} (has {names})")
            cols[f.name] = canon_arrow(f.field_type, arr.field(names.index(f.name)))
        return masked([{f.name: cols[f.name][i] for f in t.fields} for i in range(len(arr))])
    if isinstance(t, T.ListType) and (pa.types.is_list(at) or pa.types.is_large_list(at)):
        offsets = arr.offsets.to_pylist()
        items = canon_arrow(t.element_type, arr.values)
        return masked([items[offsets[i] : offsets[i + 1]] for i in range(len(arr))])
    if isinstance(t, T.MapType) and pa.types.is_map(at):
        offsets = arr.offsets.to_pylist()
        keys = canon_arrow(t.key_type, arr.keys)
        values = canon_arrow(t.value_type, arr.items)
        out = []
        for i in range(len(arr)):
            pairs = [[keys[j], values[j]] for j in range(offsets[i], offsets[i + 1])]
            pairs.sort(key=lambda kv: dumps(kv[0]))
            out.append(pairs)
        return masked(out)
    return [canon_value(t, x) for x in arr.to_pylist()]


def canon_table(schema: Any, table: Any) -> list[str]:
    """Sorted canonical JSON lines of an Arrow table, columns matched to the Iceberg schema by name."""
    columns = {}
    for f in schema.fields:
        if f.name not in table.column_names:
            raise UsageError(f"reader returned no column {f.name!r}; it returned {table.column_names}")
        chunked = table.column(f.name)
        values: list[Any] = []
        for chunk in chunked.chunks:
            values.extend(canon_arrow(f.field_type, chunk))
        columns[f.name] = values
    rows = [dumps({f.name: columns[f.name][i] for f in schema.fields}) for i in range(table.num_rows)]
    rows.sort()  # Python orders str by code point, which is the UTF-8 byte order canonical.ts uses
    return rows


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


def catalog_properties(args: argparse.Namespace) -> dict[str, str]:
    """--catalog-property k=v pairs: passed to the catalog (and so to its FileIO) as PyIceberg properties."""
    props = {}
    for kv in getattr(args, "catalog_property", None) or []:
        key, sep, value = kv.partition("=")
        if not sep:
            raise UsageError(f"--catalog-property {kv!r} must be key=value")
        props[key] = value
    return props


def load_catalog_table(args: argparse.Namespace) -> Any:
    if getattr(args, "rest_uri", None):
        # An Iceberg REST catalog instead of the SQL tables; --catalog-property passes e.g. s3.* or a token.
        from pyiceberg.catalog.rest import RestCatalog

        need(args, "table")
        catalog = RestCatalog(args.catalog_name, uri=args.rest_uri, **catalog_properties(args))
        return catalog, catalog.load_table(args.table)
    if getattr(args, "glue_endpoint", None):
        # PyIceberg's GlueCatalog (boto3) at e.g. moto; --catalog-property for glue.region, keys, s3.*.
        from pyiceberg.catalog.glue import GlueCatalog

        need(args, "table")
        catalog = GlueCatalog(args.catalog_name, **{"glue.endpoint": args.glue_endpoint, **catalog_properties(args)})
        return catalog, catalog.load_table(args.table)
    from pyiceberg.catalog.sql import SqlCatalog

    need(args, "catalog_uri", "warehouse", "table")
    catalog = SqlCatalog(args.catalog_name, uri=args.catalog_uri, warehouse=args.warehouse, **catalog_properties(args))
    return catalog, catalog.load_table(args.table)


def is_s3(path: str) -> bool:
    return path.startswith(("s3://", "s3a://", "s3n://"))


def local_path(path: str) -> str:
    """A metadata location given as a file:// URI or a path, as an absolute local path (s3:// as is)."""
    if is_s3(path):
        return path
    if path.startswith("file:"):
        from urllib.parse import unquote, urlparse

        path = unquote(urlparse(path).path)
    return os.path.abspath(path)


def load_static_table(path: str, properties: dict[str, str] | None = None) -> Any:
    from pyiceberg.table import StaticTable

    path = local_path(path)
    if not is_s3(path) and not os.path.isfile(path):
        raise UsageError(f"metadata file {path} does not exist")
    return StaticTable.from_metadata(path, properties or {})


def need(args: argparse.Namespace, *names: str) -> None:
    missing = ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) in (None, "")]
    if missing:
        raise UsageError(f"{args.command} --reader {getattr(args, 'reader', '')} needs {', '.join(missing)}")


def resolve_snapshot(table: Any, args: argparse.Namespace) -> int | None:
    if args.snapshot_id is not None and args.as_of_ms is not None:
        raise UsageError("give --snapshot-id or --as-of-ms, not both")
    if args.snapshot_id is not None:
        if table.metadata.snapshot_by_id(args.snapshot_id) is None:
            raise UsageError(f"table has no snapshot {args.snapshot_id}")
        return args.snapshot_id
    if args.as_of_ms is not None:
        snap = table.snapshot_as_of_timestamp(args.as_of_ms)
        if snap is None:
            raise UsageError(f"table has no snapshot at or before {args.as_of_ms} ms")
        return snap.snapshot_id
    return None


def schema_for(table: Any, snapshot_id: int | None) -> Any:
    """The schema a reader projects: the snapshot's own schema when time travelling (as PyIceberg does)."""
    md = table.metadata
    if snapshot_id is not None:
        snap = md.snapshot_by_id(snapshot_id)
        if snap is not None and snap.schema_id is not None:
            for s in md.schemas:
                if s.schema_id == snap.schema_id:
                    return s
    return md.schema()


def read_pyiceberg(args: argparse.Namespace) -> dict[str, Any]:
    from pyiceberg.expressions import AlwaysTrue

    if args.metadata:
        table = load_static_table(args.metadata, catalog_properties(args))
    else:
        _, table = load_catalog_table(args)
    snapshot_id = resolve_snapshot(table, args)
    scan = table.scan(row_filter=args.filter if args.filter else AlwaysTrue(), snapshot_id=snapshot_id)
    arrow = scan.to_arrow()
    schema = scan.projection()
    effective = snapshot_id if snapshot_id is not None else table.metadata.current_snapshot_id
    return {
        "reader": "pyiceberg",
        "snapshot_id": None if effective is None else str(effective),
        "count": arrow.num_rows,
        "rows": canon_table(schema, arrow),
    }


def duckdb_connect(s3: dict[str, str] | None = None) -> Any:
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    version = duckdb.__version__
    # avro first: iceberg needs it for manifests and would otherwise try to download it. httpfs (only
    # for s3:// tables) before iceberg for the same reason.
    modules = [(duckdb_extension_avro, "avro")]
    if s3 is not None:
        import duckdb_extension_httpfs

        modules.append((duckdb_extension_httpfs, "httpfs"))
    modules.append((duckdb_extension_iceberg, "iceberg"))
    for module, name in modules:
        path = os.path.join(os.path.dirname(module.__file__), "extensions", f"v{version}", f"{name}.duckdb_extension")
        if not os.path.isfile(path):
            raise UsageError(f"DuckDB extension {path} is missing: pin duckdb-extension-{name} to duckdb's version {version}")
        con.execute(f"LOAD '{path}'")
    if s3 is not None:
        duckdb_s3_secret(con, s3)
    con.execute("SET TimeZone = 'UTC'")
    return con


def duckdb_s3_secret(con: Any, props: dict[str, str]) -> None:
    """A DuckDB S3 secret from PyIceberg's s3.* properties, else the AWS_* environment."""
    from urllib.parse import urlparse

    def pick(*values: str | None) -> str | None:
        return next((v for v in values if v), None)

    env = os.environ
    key_id = pick(props.get("s3.access-key-id"), env.get("AWS_ACCESS_KEY_ID"))
    secret = pick(props.get("s3.secret-access-key"), env.get("AWS_SECRET_ACCESS_KEY"))
    region = pick(props.get("s3.region"), props.get("client.region"), env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"), "us-east-1")
    endpoint = pick(props.get("s3.endpoint"), env.get("AWS_ENDPOINT_URL_S3"), env.get("AWS_ENDPOINT_URL"))

    def q(v: str) -> str:  # an SQL string literal
        return "'" + v.replace("'", "''") + "'"

    options = ["TYPE s3", f"REGION {q(region)}"]
    if key_id and secret:
        options += [f"KEY_ID {q(key_id)}", f"SECRET {q(secret)}"]
    if endpoint:
        # DuckDB wants host:port and the scheme as USE_SSL; MinIO and friends need path-style URLs.
        url = urlparse(endpoint)
        if not url.netloc:
            raise UsageError(f"s3.endpoint {endpoint!r} needs a scheme, e.g. http://127.0.0.1:9000")
        path_style = props.get("s3.path-style-access", "true").lower() in ("true", "1", "yes")
        options += [f"ENDPOINT {q(url.netloc)}", f"USE_SSL {'true' if url.scheme == 'https' else 'false'}",
                    f"URL_STYLE {q('path' if path_style else 'vhost')}"]
    con.execute(f"CREATE SECRET lakehouse_s3 ({', '.join(options)})")


def read_duckdb_rest(args: argparse.Namespace) -> dict[str, Any]:
    """DuckDB attached to an Iceberg REST catalog (its own REST client), table files through httpfs."""
    if args.filter or args.snapshot_id is not None or args.as_of_ms is not None:
        raise UsageError("the duckdb REST reader reads the current snapshot only, without a filter")
    need(args, "table")
    props = catalog_properties(args)
    _, table = load_catalog_table(args)  # PyIceberg only supplies the schema for the canonical types
    con = duckdb_connect(props)

    def q(v: str) -> str:
        return "'" + v.replace("'", "''") + "'"

    options = ["TYPE iceberg", f"ENDPOINT {q(args.rest_uri)}"]
    token = props.get("token")
    options.append(f"TOKEN {q(token)}" if token else "AUTHORIZATION_TYPE 'none'")
    con.execute(f"ATTACH {q(args.warehouse or 'warehouse')} AS lake ({', '.join(options)})")
    *namespace, name = args.table.split(".")
    ident = ".".join('"' + part.replace('"', '""') + '"' for part in [".".join(namespace), name])
    arrow = con.execute(f"SELECT * FROM lake.{ident}").to_arrow_table()
    current = table.metadata.current_snapshot_id
    return {
        "reader": "duckdb",
        "snapshot_id": None if current is None else str(current),
        "count": arrow.num_rows,
        "rows": canon_table(table.schema(), arrow),
    }


def read_duckdb(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "rest_uri", None):
        return read_duckdb_rest(args)
    need(args, "metadata")
    if args.filter:
        raise UsageError("--filter is a PyIceberg row filter; the duckdb reader takes no filter")
    props = catalog_properties(args)
    table = load_static_table(args.metadata, props)
    # PyIceberg resolves the snapshot only to pick the schema used for types and to report its id;
    # DuckDB is given the caller's own selector so its time-travel logic is what gets tested.
    snapshot_id = resolve_snapshot(table, args)
    con = duckdb_connect(props if is_s3(args.metadata) else None)
    params: list[Any] = [local_path(args.metadata)]
    sql = "SELECT * FROM iceberg_scan(?"
    if args.snapshot_id is not None:
        sql += ", snapshot_from_id = ?"  # UBIGINT in extension 1.5.5: a negative snapshot id fails
        params.append(args.snapshot_id)
    elif args.as_of_ms is not None:
        sql += ", snapshot_from_timestamp = make_timestamp(?::BIGINT * 1000)"  # inclusive, like PyIceberg
        params.append(args.as_of_ms)
    sql += ")"
    arrow = con.execute(sql, params).to_arrow_table()
    effective = snapshot_id if snapshot_id is not None else table.metadata.current_snapshot_id
    return {
        "reader": "duckdb",
        "snapshot_id": None if effective is None else str(effective),
        "count": arrow.num_rows,
        "rows": canon_table(schema_for(table, snapshot_id), arrow),
    }


# ---------------------------------------------------------------------------------------------
# Metadata summary
# ---------------------------------------------------------------------------------------------


def json_of(model: Any) -> Any:
    return json.loads(model.model_dump_json(by_alias=True, exclude_none=True))


def decode_bounds(schema: Any, bounds: dict[int, bytes] | None) -> dict[str, Any] | None:
    from pyiceberg.conversions import from_bytes

    if bounds is None:
        return None
    out = {}
    for field_id, raw in sorted(bounds.items()):
        try:
            field = schema.find_field(field_id)
            out[str(field_id)] = canon_value(field.field_type, from_bytes(field.field_type, raw))
        except Exception:  # a field dropped from the schema, or bytes PyIceberg cannot decode
            out[str(field_id)] = {"undecoded": bytes(raw).hex()}
    return out


def enum_name(v: Any, by_value: dict[int, str]) -> str:
    # Fields read from a v1 manifest may come back as plain ints instead of pyiceberg enums.
    return by_value.get(v, str(v)) if isinstance(v, int) and not hasattr(v, "name") else v.name.lower()


CONTENT = {0: "data", 1: "position_deletes", 2: "equality_deletes"}
STATUS = {0: "existing", 1: "added", 2: "deleted"}


def counts(m: dict[int, int] | None) -> dict[str, str] | None:
    return None if m is None else {str(k): str(v) for k, v in sorted(m.items())}


def metadata_summary(args: argparse.Namespace) -> dict[str, Any]:
    if args.reader != "pyiceberg":
        raise UsageError("metadata supports --reader pyiceberg only")
    if args.metadata:
        table = load_static_table(args.metadata, catalog_properties(args))
        location = args.metadata
    else:
        _, table = load_catalog_table(args)
        location = table.metadata_location
    md = table.metadata
    schema = md.schema()
    specs = {s.spec_id: s for s in md.partition_specs}
    current = md.current_snapshot()

    files = []
    if current is not None:
        for manifest in current.manifests(table.io):
            spec = specs[manifest.partition_spec_id]
            ptype = spec.partition_type(schema)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                f = entry.data_file
                partition = {pf.name: canon_value(ptype.fields[i].field_type, f.partition[i]) for i, pf in enumerate(spec.fields)}
                files.append({
                    "content": enum_name(f.content, CONTENT),
                    "file_path": f.file_path,
                    "file_format": str(getattr(f.file_format, "name", f.file_format)).upper(),
                    "spec_id": manifest.partition_spec_id,
                    "partition": partition,
                    "record_count": str(f.record_count),
                    "file_size_in_bytes": str(f.file_size_in_bytes),
                    "status": enum_name(entry.status, STATUS),
                    "snapshot_id": None if entry.snapshot_id is None else str(entry.snapshot_id),
                    "sequence_number": None if entry.sequence_number is None else str(entry.sequence_number),
                    "value_counts": counts(f.value_counts),
                    "null_value_counts": counts(f.null_value_counts),
                    "nan_value_counts": counts(f.nan_value_counts),
                    "lower_bounds": decode_bounds(schema, f.lower_bounds),
                    "upper_bounds": decode_bounds(schema, f.upper_bounds),
                })
    files.sort(key=lambda x: x["file_path"])

    def snap(s: Any) -> dict[str, Any]:
        summary = s.summary
        return {
            "snapshot_id": str(s.snapshot_id),
            "parent_snapshot_id": None if s.parent_snapshot_id is None else str(s.parent_snapshot_id),
            "sequence_number": None if s.sequence_number is None else str(s.sequence_number),
            "timestamp_ms": str(s.timestamp_ms),
            "schema_id": s.schema_id,
            "manifest_list": s.manifest_list,
            "operation": None if summary is None else summary.operation.value,
            "summary": {} if summary is None else {k: v for k, v in summary.additional_properties.items()},
        }

    return {
        "reader": "pyiceberg",
        "metadata_location": location,
        "format_version": md.format_version,
        "table_uuid": str(md.table_uuid),
        "location": md.location,
        "last_sequence_number": None if getattr(md, "last_sequence_number", None) is None else str(md.last_sequence_number),
        "properties": dict(md.properties),
        "schema": json_of(schema),
        "schemas": [json_of(s) for s in md.schemas],
        "spec": json_of(table.spec()),
        "specs": [json_of(s) for s in md.partition_specs],
        "sort_order": json_of(md.sort_order_by_id(md.default_sort_order_id)) if md.sort_order_by_id(md.default_sort_order_id) else None,
        "current_snapshot_id": None if md.current_snapshot_id is None else str(md.current_snapshot_id),
        "snapshots": [snap(s) for s in md.snapshots],
        "refs": {name: {"snapshot_id": str(r.snapshot_id), "type": r.snapshot_ref_type.value} for name, r in md.refs.items()},
        "data_files": files,
    }


# ---------------------------------------------------------------------------------------------
# Writer (reverse direction: PyIceberg writes, our planner reads)
# ---------------------------------------------------------------------------------------------


def from_canonical(t: Any, c: Any) -> Any:
    """Python value that pyarrow accepts for Iceberg type `t`, from its canonical encoding."""
    from pyiceberg import types as T

    if c is None:
        return None
    if isinstance(t, T.BooleanType):
        if not isinstance(c, bool):
            raise UsageError(f"boolean expected, got {c!r}")
        return c
    if isinstance(t, (T.IntegerType, T.LongType, T.DateType, T.TimeType, T.TimestampType, T.TimestamptzType)):
        if not isinstance(c, str):
            raise UsageError(f"{t} is encoded as a decimal string, got {c!r}")
        return int(c)  # pyarrow takes the integer storage for date32, time64[us] and timestamp[us]
    if isinstance(t, (T.FloatType, T.DoubleType)):
        if c == "NaN":
            return math.nan
        if not (isinstance(c, str) and len(c) == 16):
            raise UsageError(f"{t} is encoded as 16 hex digits or \"NaN\", got {c!r}")
        return struct.unpack(">d", bytes.fromhex(c))[0]
    if isinstance(t, T.DecimalType):
        n = int(c)
        return decimal.Decimal((1 if n < 0 else 0, tuple(int(d) for d in str(abs(n))), -t.scale))
    if isinstance(t, T.StringType):
        return c
    if isinstance(t, T.UUIDType):
        return uuid.UUID(c).bytes
    if isinstance(t, (T.BinaryType, T.FixedType)):
        return bytes.fromhex(c)
    if isinstance(t, T.StructType):
        return {f.name: from_canonical(f.field_type, c.get(f.name)) for f in t.fields}
    if isinstance(t, T.ListType):
        return [from_canonical(t.element_type, e) for e in c]
    if isinstance(t, T.MapType):
        return [(from_canonical(t.key_type, k), from_canonical(t.value_type, v)) for k, v in c]
    raise UsageError(f"unsupported Iceberg type {t}")


def parse_json_arg(text: str, what: str) -> Any:
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as fh:
            text = fh.read()
    elif not text.lstrip().startswith(("[", "{")) and os.path.isfile(text):
        with open(text, encoding="utf-8") as fh:
            text = fh.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{what} is not valid JSON: {e}") from e


def build_spec(schema: Any, entries: list[dict[str, Any]]) -> Any:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import parse_transform

    fields = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "source" not in e or "transform" not in e:
            raise UsageError(f"partition entry {i} must be {{source, transform, name}}, got {e!r}")
        src = e["source"]
        field = schema.find_field(src)  # a column name (dotted for nested) or a field id
        transform = parse_transform(e["transform"])
        name = e.get("name") or (field.name if e["transform"] == "identity" else f"{field.name}_{e['transform'].split('[')[0]}")
        fields.append(PartitionField(source_id=field.field_id, field_id=1000 + i, transform=transform, name=name))
    return PartitionSpec(*fields, spec_id=0)


def write_table(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.schema import Schema

    need(args, "catalog_uri", "warehouse", "table", "schema", "rows")
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog(args.catalog_name, uri=args.catalog_uri, warehouse=args.warehouse, **catalog_properties(args))
    with open(args.schema, encoding="utf-8") as fh:
        schema = Schema.model_validate_json(fh.read())
    spec = build_spec(schema, parse_json_arg(args.partition, "--partition") if args.partition else [])

    namespace = tuple(args.table.split(".")[:-1])
    if not namespace:
        raise UsageError(f"--table {args.table} needs a namespace: ns.table")
    try:
        catalog.create_namespace(namespace)
    except NamespaceAlreadyExistsError:
        pass
    created = False
    try:
        table = catalog.load_table(args.table)
    except NoSuchTableError:
        properties = {"format-version": str(args.format_version)}
        for kv in args.property or []:
            key, sep, value = kv.partition("=")
            if not sep:
                raise UsageError(f"--property {kv!r} must be key=value")
            properties[key] = value
        table = catalog.create_table(args.table, schema=schema, partition_spec=spec, properties=properties)
        created = True

    # PyIceberg assigns fresh field ids at create, so rows are bound to the table's schema by name.
    tschema = table.schema()
    rows = []
    with open(args.rows, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{args.rows} line {n} is not JSON: {e}") from e
            rows.append({f.name: from_canonical(f.field_type, obj.get(f.name)) for f in tschema.fields})
    arrow_schema = schema_to_pyarrow(tschema)
    # pyarrow's uuid extension type is built from its 16-byte storage.
    columns = []
    for i, f in enumerate(tschema.fields):
        at = arrow_schema.field(i).type
        values = [r[f.name] for r in rows]
        if isinstance(at, pa.ExtensionType):
            columns.append(pa.ExtensionArray.from_storage(at, pa.array(values, type=at.storage_type)))
        else:
            columns.append(pa.array(values, type=at))
    data = pa.Table.from_arrays(columns, schema=arrow_schema)
    if args.mode == "overwrite":
        table.overwrite(data)
    else:
        table.append(data)
    table = catalog.load_table(args.table)
    snap = table.current_snapshot()
    return {
        "created": created,
        "snapshot_id": None if snap is None else str(snap.snapshot_id),
        "metadata_location": table.metadata_location,
        "schema": json_of(table.schema()),
        "spec": json_of(table.spec()),
        "rows_written": len(rows),
    }


# ---------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="verify.py", description="Iceberg interop verification with independent readers.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("read", "metadata"):
        s = sub.add_parser(name)
        s.add_argument("--reader", choices=["pyiceberg", "duckdb"], required=True)
        s.add_argument("--catalog-uri")
        s.add_argument("--rest-uri", help="base URI of an Iceberg REST catalog to load --table from (instead of --catalog-uri)")
        s.add_argument("--glue-endpoint", help="Glue endpoint URL (e.g. moto) whose GlueCatalog --table is loaded from (instead of --catalog-uri)")
        s.add_argument("--warehouse")
        s.add_argument("--table")
        s.add_argument("--catalog-name", default="default", help="catalog_name column of the SQL catalog tables")
        s.add_argument("--metadata", help="metadata JSON file (duckdb; pyiceberg reads it as a StaticTable)")
        s.add_argument("--catalog-property", action="append", metavar="KEY=VALUE",
                       help="catalog/FileIO property, repeatable, e.g. s3.endpoint=http://127.0.0.1:9000")
        if name == "read":
            s.add_argument("--snapshot-id", type=int)
            s.add_argument("--as-of-ms", type=int)
            s.add_argument("--filter", help="PyIceberg row filter, e.g. \"id > 5 and name == 'a'\"")
    w = sub.add_parser("write")
    w.add_argument("--catalog-uri", required=True)
    w.add_argument("--warehouse", required=True)
    w.add_argument("--table", required=True)
    w.add_argument("--catalog-name", default="default")
    w.add_argument("--catalog-property", action="append", metavar="KEY=VALUE", help="catalog/FileIO property, repeatable")
    w.add_argument("--schema", required=True, help="file with the schema in Iceberg JSON form")
    w.add_argument("--partition", help="JSON list of {source, transform, name}, inline or @file")
    w.add_argument("--rows", required=True, help="NDJSON file of rows in the canonical encoding")
    w.add_argument("--mode", choices=["append", "overwrite"], default="append")
    w.add_argument("--format-version", type=int, choices=[1, 2], default=2)
    w.add_argument("--property", action="append", metavar="KEY=VALUE",
                   help="table property at create; repeatable. PyIceberg's writer cannot compute column stats for "
                        "dates/timestamps outside years 1..9999: pass write.metadata.metrics.default=none for those")
    return p


def main(argv: list[str]) -> int:
    p = parser()
    # argparse prints usage and exits 2 on bad flags; turn that into our one-line error contract.
    p.error = lambda message: (_ for _ in ()).throw(UsageError(message))  # type: ignore[method-assign]
    for action in p._subparsers._group_actions:  # type: ignore[union-attr]
        for sp in action.choices.values():
            sp.error = p.error  # type: ignore[method-assign]
    try:
        args = p.parse_args(argv)
        if args.command == "read":
            out = read_pyiceberg(args) if args.reader == "pyiceberg" else read_duckdb(args)
        elif args.command == "metadata":
            out = metadata_summary(args)
        else:
            out = write_table(args)
    except Exception as e:  # noqa: BLE001 - the contract is one line on stderr, whatever failed
        if os.environ.get("VERIFY_TRACEBACK"):
            import traceback

            traceback.print_exc()
        msg = " ".join(str(e).split()) or type(e).__name__
        sys.stderr.write(f"verify.py {argv[0] if argv else ''}: {type(e).__name__}: {msg}\n")
        return 1
    sys.stdout.write(dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
