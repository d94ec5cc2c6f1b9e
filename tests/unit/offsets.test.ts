import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { Schema, Table, T } from '../../iceberg/index.ts';
import {
  AlreadyCommittedError, COMMIT_ID_KEY, OffsetsAppend, OffsetsFencedError, SOURCE_KEY, decodePositions, encodePositions,
  findRecordedOffsets, offsetsKey, positionsSummary, recordedPositions,
} from '../../pipeline/offsets.ts';
import type { Positions } from '../../pipeline/source.ts';

let dir: string;
let catalog: SqlCatalog;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-offsets-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

async function newTable(): Promise<Table> {
  const id = { namespace: [`ns_${Math.random().toString(36).slice(2, 8)}`], name: 't' };
  await catalog.createNamespace(id.namespace);
  return new Table(catalog, await catalog.createTable(id, { schema: new Schema([T.field(1, 'id', T.long(), true)]) }));
}

/** A snapshot of another writer (compaction, a metrics job): no offsets of ours. */
async function foreignCommit(t: Table, summary: Record<string, string> = { 'other.writer': 'compaction' }): Promise<void> {
  await t.newAppend().appendFiles([]).setAll(summary).commit();
}

const range = (first: bigint, next: bigint) => ({ first, next });

describe('position encoding', () => {
  it('round-trips 64-bit offsets and topics that contain ":" as decimal strings with sorted keys', () => {
    const p: Positions = new Map([['s3://bucket/events.ndjson:0', 12n], ['campaign_events:2', (1n << 63n) - 1n], ['campaign_events:0', 0n]]);
    const text = encodePositions(p);
    expect(text).toBe('{"campaign_events:0":"0","campaign_events:2":"9223372036854775807","s3://bucket/events.ndjson:0":"12"}');
    expect(decodePositions(text)).toEqual(p);
  });

  it('puts every key under the lakehouse. prefix, offsets under lakehouse.offsets.<group>', () => {
    const s = positionsSummary({ group: 'ingest-1', positions: new Map([['t:0', 5n]]), source: 'kafka:t', commitId: 'abc' });
    expect(s).toEqual({ 'lakehouse.source': 'kafka:t', 'lakehouse.offsets.ingest-1': '{"t:0":"5"}', 'lakehouse.commit-id': 'abc' });
  });

  it('rejects a malformed recorded value and a group name that cannot be a key, with a sentence', () => {
    expect(() => decodePositions('{"t:0": -1}')).toThrow(/not "<topic>:<partition>": "<non-negative integer>"/);
    expect(() => decodePositions('[1]')).toThrow(/must be a JSON object/);
    expect(() => offsetsKey('my group')).toThrow(/Group name "my group" is not valid/);
  });
});

describe('recordedPositions', () => {
  it('is empty for a table without snapshots', async () => {
    const t = await newTable();
    expect(recordedPositions(t.metadata, 'g')).toEqual(new Map());
  });

  it('walks back over snapshots of other writers and other groups to the newest one of the group', async () => {
    const t = await newTable();
    await new OffsetsAppend(t, { group: 'g', source: 'kafka:t', ranges: new Map([['t:0', range(0n, 10n)]]), commitId: 'c1' }).commit();
    await new OffsetsAppend(t, { group: 'g', source: 'kafka:t', ranges: new Map([['t:0', range(10n, 25n)]]), commitId: 'c2' }).commit();
    await foreignCommit(t);
    await new OffsetsAppend(t, { group: 'other', source: 'kafka:t', ranges: new Map([['t:0', range(0n, 99n)]]), commitId: 'c3' }).commit();
    await foreignCommit(t);
    const found = findRecordedOffsets(t.metadata, 'g');
    expect(found.positions).toEqual(new Map([['t:0', 25n]]));
    expect(found.snapshot?.summary[COMMIT_ID_KEY]).toBe('c2');
    expect(recordedPositions(t.metadata, 'other')).toEqual(new Map([['t:0', 99n]]));
    expect(t.metadata.snapshots).toHaveLength(5);
  });

  it('follows parent lineage, not the snapshot list: a rolled-back snapshot does not count', async () => {
    const t = await newTable();
    await new OffsetsAppend(t, { group: 'g', source: 's', ranges: new Map([['t:0', range(0n, 5n)]]), commitId: 'c1' }).commit();
    const first = t.currentSnapshot()!;
    await new OffsetsAppend(t, { group: 'g', source: 's', ranges: new Map([['t:0', range(5n, 9n)]]), commitId: 'c2' }).commit();
    // Roll main back to the first snapshot: the second stays in the snapshot list but not in the lineage.
    const rolledBack = { ...t.metadata, currentSnapshotId: first.snapshotId, refs: { main: { snapshotId: first.snapshotId, type: 'branch' as const } } };
    expect(rolledBack.snapshots).toHaveLength(2);
    expect(recordedPositions(rolledBack, 'g')).toEqual(new Map([['t:0', 5n]]));
  });
});

describe('OffsetsAppend', () => {
  it('carries forward partitions recorded earlier, including another consumer\'s, and writes source and commit id', async () => {
    const t = await newTable();
    await new OffsetsAppend(t, { group: 'g', source: 'kafka:t', ranges: new Map([['t:0', range(0n, 10n)], ['t:1', range(0n, 3n)]]), commitId: 'c1' }).commit();
    // A second consumer of the group holds a stale copy of the table: its commit conflicts, rebases and
    // must still carry t:0 and t:1 forward as the first consumer recorded them.
    const other = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
    const stale = new Table(other, await other.loadTable(t.identifier));
    await new OffsetsAppend(t, { group: 'g', source: 'kafka:t', ranges: new Map([['t:0', range(10n, 20n)]]), commitId: 'c2' }).commit();
    const s = await new OffsetsAppend(stale, { group: 'g', source: 'kafka:t', ranges: new Map([['t:2', range(0n, 7n)]]), commitId: 'c3' }).commit();
    await other.close();
    expect(s.summary[offsetsKey('g')]).toBe('{"t:0":"20","t:1":"3","t:2":"7"}');
    expect(s.summary[SOURCE_KEY]).toBe('kafka:t');
    expect(s.summary[COMMIT_ID_KEY]).toBe('c3');
  });

  it('refuses a range another writer of the group already committed part of, and commits nothing', async () => {
    const t = await newTable();
    await new OffsetsAppend(t, { group: 'g', source: 's', ranges: new Map([['t:0', range(0n, 10n)]]), commitId: 'c1' }).commit();
    const zombie = new OffsetsAppend(t, { group: 'g', source: 's', ranges: new Map([['t:0', range(5n, 12n)]]), commitId: 'c2' });
    await expect(zombie.commit()).rejects.toBeInstanceOf(OffsetsFencedError);
    expect(t.metadata.snapshots).toHaveLength(1);
    expect(recordedPositions(t.metadata, 'g')).toEqual(new Map([['t:0', 10n]]));
    // A gap is fine (Kafka skips offsets of transaction markers); so is exactly continuing.
    await new OffsetsAppend(t, { group: 'g', source: 's', ranges: new Map([['t:0', range(12n, 13n)]]), commitId: 'c3' }).commit();
    expect(recordedPositions(t.metadata, 'g')).toEqual(new Map([['t:0', 13n]]));
  });

  it('reports a commit id already in the table instead of applying it twice', async () => {
    const t = await newTable();
    const opts = { group: 'g', source: 's', ranges: new Map([['t:0', range(0n, 10n)]]), commitId: 'same' };
    const landed = await new OffsetsAppend(t, opts).commit();
    const again = new OffsetsAppend(t, opts).commit();
    await expect(again).rejects.toBeInstanceOf(AlreadyCommittedError);
    await expect(again).rejects.toMatchObject({ snapshot: { snapshotId: landed.snapshotId } });
    expect(t.metadata.snapshots).toHaveLength(1);
  });
});
