import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { Catalog } from '../../catalog/catalog.ts';
import { parseIdentifier, Schema, Table, T } from '../../iceberg/index.ts';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./append-worker.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));

/** Retry settings generous enough that two busy writers never give up on each other. */
export const RACE_PROPERTIES = { 'commit.retry.num-retries': '50', 'commit.retry.min-wait-ms': '5', 'commit.retry.max-wait-ms': '200' };
export const RACE_SCHEMA = new Schema([T.field(1, 'writer', T.string(), true), T.field(2, 'n', T.int(), true)]);

/** One OS process appending `count` single-row snapshots as `writer` (append-worker.ts); resolves when it exits. */
export async function appendInAnotherProcess(configFile: string, catalogName: string, writer: string, count: number, table: string): Promise<void> {
  await run(process.execPath, ['--import', TSX, WORKER, configFile, catalogName, writer, String(count), table], { timeout: 180_000 });
}

/**
 * Two OS processes append `perWriter` rows each to one table through the catalog named in `configFile`;
 * afterwards every append must be in the table exactly once and the history must be linear.
 */
export async function raceTwoProcesses(catalog: Catalog, configFile: string, catalogName: string, table: string, perWriter: number): Promise<void> {
  await Promise.all(['a', 'b'].map((w) => appendInAnotherProcess(configFile, catalogName, w, perWriter, table)));
  const t = new Table(catalog, await catalog.loadTable(parseIdentifier(table)));
  const rows = (await t.readRows()).map((r) => `${r.writer}${r.n}`).sort();
  const expected = ['a', 'b'].flatMap((w) => Array.from({ length: perWriter }, (_, i) => `${w}${i}`)).sort();
  expect(rows).toEqual(expected);
  const bySeq = [...t.metadata.snapshots].sort((x, y) => x.sequenceNumber - y.sequenceNumber);
  expect(bySeq).toHaveLength(2 * perWriter);
  bySeq.forEach((s, i) => {
    expect(s.sequenceNumber).toBe(i + 1);
    expect(s.parentSnapshotId ?? null).toBe(i === 0 ? null : bySeq[i - 1]!.snapshotId);
    expect(s.summary['total-records']).toBe(String(i + 1));
  });
}
