import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { EncodePool } from '../../iceberg/writer/parquet-encode-pool.ts';
import { encodeIpc } from '../../iceberg/writer/parquet-encode.mjs';
import { DuckDb } from '../../sql/duckdb.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The Parquet encoding thread gives exactly the bytes the inline encoder gives, and DuckDB reads them. */
function ipcOf(rows: number, seed: number): Uint8Array {
  const table = arrow.tableFromArrays({
    id: Int32Array.from({ length: rows }, (_, i) => i + seed),
    name: Array.from({ length: rows }, (_, i) => `name-${(i * 7 + seed) % 97}`),
    amount: Float64Array.from({ length: rows }, (_, i) => (i % 13) * 0.25),
  });
  return arrow.tableToIPC(table, 'stream');
}
const props = { compression: 'zstd' as const, plainColumns: ['id'] };

describe('Parquet encoding thread', () => {
  it('encodes what the inline encoder encodes, byte for byte, many requests at once in order', async () => {
    const pool = new EncodePool(1);
    try {
      const inputs = Array.from({ length: 12 }, (_, k) => ipcOf(1000 + k * 37, k));
      const expected = inputs.map((ipc) => encodeIpc(ipc, props));
      const got = await Promise.all(inputs.map((ipc) => pool.encode(ipc.slice(), props)));
      expect(got.map((b) => Buffer.from(b).toString('base64'))).toEqual(expected.map((b) => Buffer.from(b).toString('base64')));
      // An independent reader opens one.
      const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-encode-'));
      try {
        const file = path.join(dir, 'f.parquet');
        writeFileSync(file, got[3]!);
        const db = await DuckDb.open({ threads: 1 });
        try {
          const [r] = await db.rows(`SELECT count(*) AS n, sum(id) AS s, count(DISTINCT name) AS d FROM read_parquet('${file}')`);
          const n = 1000 + 3 * 37;
          expect(r).toEqual({ n: BigInt(n), s: BigInt((n * (n - 1)) / 2 + 3 * n), d: 97n });
        } finally {
          db.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await pool.close();
    }
  });

  it('a request the encoder refuses rejects with its reason, and the next request is encoded', async () => {
    const pool = new EncodePool(1);
    try {
      await expect(pool.encode(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), props)).rejects.toThrow(/./);
      const ipc = ipcOf(500, 1);
      expect(Buffer.from(await pool.encode(ipc.slice(), props)).equals(Buffer.from(encodeIpc(ipc, props)))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('with no thread (LAKEHOUSE_PARQUET_THREADS=0 or one core) encodes inline, the same bytes', async () => {
    const ipc = ipcOf(300, 2);
    expect(Buffer.from(await new EncodePool(0).encode(ipc, props)).equals(Buffer.from(encodeIpc(ipc, props)))).toBe(true);
  });
});
