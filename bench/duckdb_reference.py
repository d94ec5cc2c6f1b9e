"""Reference for `make bench`: DuckDB converting the same NDJSON events to one zstd Parquet file.

Prints one JSON object: seconds, CPU seconds (this process, every DuckDB thread), rows and output size
for 1 and 2 threads. CPU seconds let a run on a busy machine still compare work per event.
"""
import json
import os
import sys
import time

import duckdb

src, out = sys.argv[1], sys.argv[2]
results = {}
for threads in (1, 2):
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    t0 = time.perf_counter()
    c0 = time.process_time()
    con.execute(
        f"COPY (SELECT * FROM read_json('{src}', format='newline_delimited')) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    results[f"threads{threads}"] = {"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": rows, "bytes": os.path.getsize(out)}
print(json.dumps(results))
