import { randomUUID } from 'node:crypto';
import type * as arrow from 'apache-arrow';
import { LakehouseError } from '../../core/errors.ts';
import { recordBatchToRows, rowsToRecordBatch } from '../arrow/arrow-rows.ts';
import { CommitStateUnknownError } from '../errors.ts';
import type { Expr } from '../expr/expressions.ts';
import { readParquetBytes } from '../scan/parquet-reader.ts';
import { planFiles } from '../scan/table-scan.ts';
import type { Schema } from '../spec/schema.ts';
import { type SortOrder, UNSORTED } from '../spec/sort-order.ts';
import type { Value } from '../spec/types.ts';
import { currentSchema, sortOrderById, specById } from '../spec/table-metadata.ts';
import { writeDataFiles } from '../writer/write-data-files.ts';
import { type CompactionGroup, type CompactionPlan, type CompactionPlanOptions, planCompaction, targetFileSize } from './compaction-plan.ts';
import { FilesRemovedError, RewriteFiles } from './rewrite-files.ts';
import type { TableHandle } from './snapshot-producer.ts';
import { sortRows } from './sort-rows.ts';

/**
 * Compaction (Java `RewriteDataFiles` with the bin-pack strategy): plan groups of small files per
 * partition (compaction-plan.ts), then for each group read its rows, optionally sort them by the table's
 * sort order, write them as files of the target size, and commit one `replace` snapshot per group
 * (RewriteFiles). One commit per group keeps a conflict small: ingest appending meanwhile only rebases
 * the group's commit; a concurrent commit that removed one of its files (an overwrite, another
 * compaction) makes that group fail validation with nothing committed, and it is planned again from the
 * new head once, then skipped. The row count of every group is checked before it commits.
 */

export interface CompactOptions extends Partial<CompactionPlanOptions> {
  /** Only files whose partition (or column bounds) might match this row filter. */
  filter?: Expr | string;
  /** Sort rows by the table's default sort order (default: when the table declares one). */
  sort?: boolean;
  /** Plan and report, write nothing. */
  dryRun?: boolean;
  /** Checked between groups (and between a group's files): a group in progress is abandoned before its commit. */
  signal?: AbortSignal;
  /** Extra snapshot summary properties of every compaction commit. */
  summary?: Record<string, string>;
  /** How often a group whose files a concurrent commit removed is planned again before it is skipped. */
  replans?: number;
  /** Called as the run goes; a returned promise holds the run until it settles. */
  onProgress?: (p: CompactionProgress) => void | Promise<void>;
}

export interface CompactionProgress {
  /** Input bytes read so far, and the total planned (grows when a group is planned again). */
  bytesDone: number;
  bytesTotal: number;
  groupsDone: number;
  groupsTotal: number;
  event: 'read' | 'committed' | 'skipped';
  group: CompactionGroup;
  detail?: string;
}

export interface CompactedGroup {
  specId: number;
  partition: Value[];
  filesRemoved: number;
  filesAdded: number;
  bytesRead: number;
  bytesWritten: number;
  records: number;
  snapshotId: bigint;
}

export interface SkippedGroup {
  specId: number;
  partition: Value[];
  files: number;
  reason: string;
}

export interface CompactionResult {
  table: string;
  dryRun: boolean;
  plan: CompactionPlan;
  sortOrderId: number;
  committed: CompactedGroup[];
  skipped: SkippedGroup[];
  /** True when the signal stopped the run before every planned group was done. */
  aborted: boolean;
  filesRemoved: number;
  filesAdded: number;
  bytesRead: number;
  bytesWritten: number;
  seconds: number;
}

/** Snapshot summary key marking a compaction's commits, with the sort order id its files follow. */
export const COMPACTION_SUMMARY_KEY = 'lakehouse.compaction.sort-order-id';
const DEFAULT_REPLANS = 1;

export async function compactTable(table: TableHandle, opts: CompactOptions = {}): Promise<CompactionResult> {
  const started = performance.now();
  const base = table.state.metadata;
  const name = table.state.identifier.namespace.concat(table.state.identifier.name).join('.');
  const order = resolveSortOrder(base.sortOrders.length ? sortOrderById(base, base.defaultSortOrderId) : UNSORTED, opts.sort, name);
  const planOpts = planOptions(base.properties, opts);
  const plan = await planOnce(table, opts, planOpts);
  const result: CompactionResult = {
    table: name, dryRun: Boolean(opts.dryRun), plan, sortOrderId: order.orderId, committed: [], skipped: [], aborted: false,
    filesRemoved: 0, filesAdded: 0, bytesRead: 0, bytesWritten: 0, seconds: 0,
  };
  const finish = () => ({ ...result, seconds: (performance.now() - started) / 1000 });
  if (opts.dryRun) return finish();

  const progress = { bytesDone: 0, bytesTotal: plan.groups.reduce((a, g) => a + g.bytes, 0), groupsDone: 0, groupsTotal: plan.groups.length };
  const report = async (event: CompactionProgress['event'], group: CompactionGroup, detail?: string) => { await opts.onProgress?.({ ...progress, event, group, detail }); };
  const queue = plan.groups.map((g) => ({ group: g, replans: opts.replans ?? DEFAULT_REPLANS }));
  while (queue.length > 0) {
    if (opts.signal?.aborted) { result.aborted = true; break; }
    const { group, replans } = queue.shift()!;
    const doneBefore = progress.bytesDone;
    try {
      const done = await rewriteGroup(table, group, order, opts, (bytes) => { progress.bytesDone = doneBefore + bytes; return report('read', group); });
      if (done === null) { result.aborted = true; break; }
      result.committed.push(done);
      result.filesRemoved += done.filesRemoved;
      result.filesAdded += done.filesAdded;
      result.bytesRead += done.bytesRead;
      result.bytesWritten += done.bytesWritten;
      progress.groupsDone++;
      await report('committed', group);
    } catch (e) {
      if (!(e instanceof FilesRemovedError)) throw e;
      progress.bytesDone = doneBefore + group.bytes;
      if (replans > 0) {
        // Plan the partition again from the head that removed the files; its new groups join the queue.
        await table.refresh();
        const again = (await planOnce(table, opts, { ...planOpts, maxBytes: undefined, maxFiles: undefined })).groups.filter((g) => g.key === group.key);
        for (const g of again) queue.push({ group: g, replans: replans - 1 });
        progress.bytesTotal += again.reduce((a, g) => a + g.bytes, 0);
        progress.groupsTotal += again.length;
        await report('skipped', group, `planned again: ${again.length} group(s) (${e.missing.length} file(s) removed by a concurrent commit)`);
      } else {
        result.skipped.push({ specId: group.specId, partition: group.partition, files: group.files.length, reason: e.message });
        await report('skipped', group, e.message);
      }
      progress.groupsDone++;
    }
  }
  return finish();
}

function planOptions(properties: Record<string, string>, opts: CompactOptions): CompactionPlanOptions {
  return {
    targetFileSizeBytes: opts.targetFileSizeBytes ?? targetFileSize(properties),
    minFileSizeBytes: opts.minFileSizeBytes, minInputFiles: opts.minInputFiles, maxBytes: opts.maxBytes, maxFiles: opts.maxFiles,
  };
}

async function planOnce(table: TableHandle, opts: CompactOptions, planOpts: CompactionPlanOptions): Promise<CompactionPlan> {
  const scan = await planFiles(table.state.metadata, table.state.io, { filter: opts.filter });
  return planCompaction(scan.files, planOpts);
}

function resolveSortOrder(declared: SortOrder, sort: boolean | undefined, name: string): SortOrder {
  if (sort === false) return UNSORTED;
  if (sort === true && declared.fields.length === 0) {
    throw new LakehouseError('INVALID_ARGUMENT', `Table ${name} declares no sort order, so its files cannot be compacted sorted; compact without sorting, or declare a sort order first.`);
  }
  return declared;
}

/**
 * Reads, writes and commits one group; null when the signal stopped it before its commit (the files it
 * wrote are deleted: nothing references them).
 */
async function rewriteGroup(
  table: TableHandle, group: CompactionGroup, order: SortOrder, opts: CompactOptions, onRead: (bytes: number) => Promise<void>,
): Promise<CompactedGroup | null> {
  const meta = table.state.metadata;
  const io = table.state.io;
  const schema = currentSchema(meta);
  let readBytes = 0;
  let stopped = false;
  async function* batches(): AsyncGenerator<arrow.RecordBatch> {
    for (const f of group.files) {
      if (opts.signal?.aborted) { stopped = true; return; }
      const t = readParquetBytes(await io.read(f.filePath), schema);
      readBytes += f.fileSizeInBytes;
      await onRead(readBytes);
      yield* t.batches;
    }
  }
  const input: AsyncIterable<arrow.RecordBatch> | arrow.RecordBatch[] = order.fields.length === 0 ? batches() : await sortedBatches(batches(), schema, order);
  const written = await writeDataFiles(input, {
    io, schema, spec: specById(meta, group.specId), tableLocation: meta.location, properties: meta.properties,
    fileNamePrefix: `${randomUUID()}-compact`,
  });
  const discard = () => io.deleteMany(written.map((f) => f.filePath)).catch(() => {});
  if (stopped || opts.signal?.aborted) {
    await discard();
    return null;
  }
  if (order.fields.length > 0) for (const f of written) f.sortOrderId = order.orderId;
  const rewrite = new RewriteFiles(table);
  for (const f of group.files) rewrite.deleteFile(f);
  for (const f of written) rewrite.addFile(f);
  rewrite.setAll(opts.summary ?? {}).set(COMPACTION_SUMMARY_KEY, String(order.orderId));
  let snapshotId: bigint;
  try {
    snapshotId = (await rewrite.commit()).snapshotId;
  } catch (e) {
    // After an unknown outcome a landed snapshot may reference the files: keep them.
    if (!(e instanceof CommitStateUnknownError)) await discard();
    throw e;
  }
  return {
    specId: group.specId, partition: group.partition, filesRemoved: group.files.length, filesAdded: written.length, bytesRead: readBytes,
    bytesWritten: written.reduce((a, f) => a + f.fileSizeInBytes, 0), records: written.reduce((a, f) => a + f.recordCount, 0), snapshotId,
  };
}

/** The whole group in memory, sorted: a sort needs every row before the first is written. */
async function sortedBatches(input: AsyncIterable<arrow.RecordBatch>, schema: Schema, order: SortOrder): Promise<arrow.RecordBatch[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const b of input) for (const r of recordBatchToRows(b, schema)) rows.push(r);
  return rows.length === 0 ? [] : [rowsToRecordBatch(schema, sortRows(rows, schema, order))];
}

