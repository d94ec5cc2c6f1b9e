import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { Schema } from '../../iceberg/schema.ts';
import { Table } from '../../iceberg/table.ts';
import { T } from '../../iceberg/types.ts';

/**
 * Two processes append to one table through one SQLite catalog file at the same time. Every commit races;
 * the losers rebase and retry, so every append must land exactly once and the history must stay linear.
 */
const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('../support/append-worker.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
let dir: string;

beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-race-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('concurrent writers in separate processes', () => {
  it('every append of two racing processes lands exactly once, on a linear history', async () => {
    const uri = `sqlite:///${path.join(dir, 'catalog.db')}`;
    const warehouse = path.join(dir, 'wh');
    const catalog = await SqlCatalog.open({ name: 'default', uri, warehouse });
    await catalog.createNamespace(['race']);
    const schema = new Schema([T.field(1, 'writer', T.string(), true), T.field(2, 'n', T.int(), true)]);
    await catalog.createTable({ namespace: ['race'], name: 't' }, { schema, properties: { 'commit.retry.num-retries': '50', 'commit.retry.min-wait-ms': '5', 'commit.retry.max-wait-ms': '200' } });

    const PER_WRITER = 12;
    await Promise.all(['a', 'b'].map((w) => run(process.execPath, ['--import', TSX, WORKER, uri, warehouse, w, String(PER_WRITER)], { timeout: 120_000 })));

    const t = new Table(catalog, await catalog.loadTable({ namespace: ['race'], name: 't' }));
    const rows = (await t.readRows()).map((r) => `${r.writer}${r.n}`).sort();
    const expected = ['a', 'b'].flatMap((w) => Array.from({ length: PER_WRITER }, (_, i) => `${w}${i}`)).sort();
    expect(rows).toEqual(expected);
    const snaps = t.metadata.snapshots;
    expect(snaps).toHaveLength(2 * PER_WRITER);
    // Linear: each snapshot's parent is the one before it in sequence order.
    const bySeq = [...snaps].sort((x, y) => x.sequenceNumber - y.sequenceNumber);
    bySeq.forEach((s, i) => {
      expect(s.sequenceNumber).toBe(i + 1);
      expect(s.parentSnapshotId ?? null).toBe(i === 0 ? null : bySeq[i - 1]!.snapshotId);
      expect(s.summary['total-records']).toBe(String(i + 1));
    });
    await catalog.close();
  });
});
