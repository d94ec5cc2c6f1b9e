import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { DuckDb } from '../../sql/duckdb.ts';

describe('DuckDb.rowChunks', () => {
  it('streams the same rows as rows(), in order, in chunks of at least the asked size but the last', async () => {
    const db = await DuckDb.open({ threads: 1 });
    try {
      const sql = "SELECT i AS n, 'c' || (i % 7) AS s, make_timestamptz(i * 1000000) AS t, i % 3 = 0 AS b FROM range(100003) r(i) ORDER BY i";
      const all = await db.rows(sql);
      const chunks: Record<string, unknown>[][] = [];
      for await (const chunk of db.rowChunks(sql, 10_000)) chunks.push(chunk);
      expect(chunks.flat()).toEqual(all);
      expect(chunks.slice(0, -1).every((c) => c.length >= 10_000)).toBe(true);
      expect(chunks.length).toBeGreaterThan(5);
      expect(all[5]).toEqual({ n: 5n, s: 'c5', t: 5_000_000n, b: false });
      const none: unknown[] = [];
      for await (const chunk of db.rowChunks('SELECT 1 AS x WHERE false')) none.push(chunk);
      expect(none).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('a failing query is a sentence naming the statement', async () => {
    const db = await DuckDb.open();
    try {
      const consume = async () => { for await (const _ of db.rowChunks('SELECT * FROM no_such_table')) { /* nothing */ } };
      const err = await consume().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LakehouseError);
      expect((err as Error).message).toMatch(/DuckDB failed .*no_such_table/);
    } finally {
      db.close();
    }
  });
});
