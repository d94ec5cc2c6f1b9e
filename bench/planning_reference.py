"""Reference for the commit bench: independent readers planning the same table from one metadata file.

PyIceberg: `plan_files()` of a full scan (manifest list, every manifest, every entry). DuckDB's iceberg
extension: `iceberg_metadata()`, which lists the live manifest entries of the current snapshot.
Prints one JSON object with the best of `repeat` timings in milliseconds and the file counts each found.
"""
import json
import os
import sys
import time

from pyiceberg.table import StaticTable

# The interop reader's DuckDB set-up: the avro and iceberg extensions from their PyPI wheels, offline.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "interop"))
from verify import duckdb_connect  # noqa: E402

metadata, repeat = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
out = {}

table = StaticTable.from_metadata(metadata)
best = None
for _ in range(repeat):
    t0 = time.perf_counter()
    files = sum(1 for _ in table.scan().plan_files())
    ms = (time.perf_counter() - t0) * 1000
    best = ms if best is None else min(best, ms)
out["pyiceberg"] = {"ms": best, "files": files}

con = duckdb_connect()
best = None
for _ in range(repeat):
    t0 = time.perf_counter()
    files = con.execute(f"SELECT count(*) FROM iceberg_metadata('{metadata}') WHERE status <> 'DELETED'").fetchone()[0]
    ms = (time.perf_counter() - t0) * 1000
    best = ms if best is None else min(best, ms)
out["duckdb"] = {"ms": best, "files": files}
print(json.dumps(out))
