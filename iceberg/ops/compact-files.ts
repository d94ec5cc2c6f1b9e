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
import type { DataFile } from '../spec/manifest/manifest-types.ts';
import { currentSchema, sortOrderById, specById } from '../spec/table-metadata.ts';
import { writeDataFiles } from '../writer/write-data-files.ts';
import { type CompactionGroup, type CompactionPlan, type CompactionPlanOptions, planCompaction, targetFileSize } from './compaction-plan.ts';
import { FilesRemovedError, RewriteFiles } from './rewrite-files.ts';
import type { TableHandle } from './snapshot-producer.ts';
import { sortRows } from './sort-rows.ts';

/**
 * Compaction (Java `RewriteDataFiles` with the bin-pack strategy): plan groups of small files per
 * partition (compaction-plan.ts), then for each group read its rows, optionally sort them by the table's
 * sort order and write them as files of the target size; the written groups are committed together as
 * one `replace` snapshot (RewriteFiles; `groupsPerCommit` for smaller batches). Ingest appending meanwhile
 * only makes the commit rebase; a concurrent commit that removed an input file (an overwrite, another
 * compaction) fails validation with nothing committed, and then the groups holding such files are dropped
 * from the commit (the others land) and planned again from the new head once, then skipped. RewriteFiles
 * checks that the row count is unchanged before it commits.
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
  /**
   * Groups per replace snapshot; default all of the run in one (Java's default, partial progress off). A
   * commit rewrites every manifest that lists an input file, so one commit per group would rewrite the
   * same manifests once per partition; smaller batches only bound the work a failure would lose.
   */
  groupsPerCommit?: number;
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
/** Snapshot summary key: how many groups (partitions' bins) the compaction commit replaced. */
export const COMPACTION_GROUPS_KEY = 'lakehouse.compaction.groups';
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
  const perCommit = opts.groupsPerCommit ?? Number.POSITIVE_INFINITY;
  if (!(perCommit >= 1)) throw new LakehouseError('INVALID_ARGUMENT', `Compaction option groupsPerCommit must be 1 or more, got ${perCommit}.`);

  const progress = { bytesDone: 0, bytesTotal: plan.groups.reduce((a, g) => a + g.bytes, 0), groupsDone: 0, groupsTotal: plan.groups.length };
  const report = async (event: CompactionProgress['event'], group: CompactionGroup, detail?: string) => { await opts.onProgress?.({ ...progress, event, group, detail }); };
  const queue = plan.groups.map((g) => ({ group: g, replans: opts.replans ?? DEFAULT_REPLANS }));
  let pending: Written[] = [];

  /** Groups whose inputs a concurrent commit removed: planned again from the new head, or skipped. */
  const replan = async (lost: Written[], e: FilesRemovedError) => {
    await table.refresh();
    // Files of groups still waiting for their commit are taken; the new plan must not pick them again.
    const taken = new Set([...pending, ...queue].flatMap((w) => w.group.files.map((f) => f.filePath)));
    const fresh = lost.some((w) => w.replans > 0) ? (await planOnce(table, opts, { ...planOpts, maxBytes: undefined, maxFiles: undefined }, taken)).groups : [];
    for (const w of lost) {
      if (w.replans > 0) {
        const again = fresh.filter((g) => g.key === w.group.key);
        for (const g of again) queue.push({ group: g, replans: w.replans - 1 });
        progress.bytesTotal += again.reduce((a, g) => a + g.bytes, 0);
        progress.groupsTotal += again.length;
        await report('skipped', w.group, `planned again: ${again.length} group(s) (${e.missing.length} file(s) removed by a concurrent commit)`);
      } else {
        result.skipped.push({ specId: w.group.specId, partition: w.group.partition, files: w.group.files.length, reason: e.message });
        await report('skipped', w.group, e.message);
      }
    }
  };

  /**
   * Commits the written groups in one replace snapshot. If a concurrent commit removed inputs of some,
   * those are dropped (their files deleted, nothing references them) and the others commit without them.
   */
  const commitPending = async () => {
    while (pending.length > 0) {
      const batch = pending;
      try {
        const snapshotId = await commitGroups(table, batch, order, opts.summary);
        for (const w of batch) {
          const c: CompactedGroup = {
            specId: w.group.specId, partition: w.group.partition, filesRemoved: w.group.files.length, filesAdded: w.written.length,
            bytesRead: w.bytesRead, bytesWritten: w.written.reduce((a, f) => a + f.fileSizeInBytes, 0), records: w.group.records, snapshotId,
          };
          result.committed.push(c);
          result.filesRemoved += c.filesRemoved;
          result.filesAdded += c.filesAdded;
          result.bytesRead += c.bytesRead;
          result.bytesWritten += c.bytesWritten;
          await report('committed', w.group);
        }
        pending = [];
      } catch (e) {
        if (!(e instanceof FilesRemovedError)) {
          // After an unknown outcome a landed snapshot may reference the files: keep them.
          if (!(e instanceof CommitStateUnknownError)) await discard(table, batch);
          pending = [];
          throw e;
        }
        const missing = new Set(e.missing);
        const lost = batch.filter((w) => w.group.files.some((f) => missing.has(f.filePath)));
        await discard(table, lost);
        pending = batch.filter((w) => !lost.includes(w));
        await replan(lost, e);
      }
    }
  };

  while (queue.length > 0) {
    if (opts.signal?.aborted) { result.aborted = true; break; }
    const { group, replans } = queue.shift()!;
    const doneBefore = progress.bytesDone;
    const w = await writeGroup(table, group, order, opts, (bytes) => { progress.bytesDone = doneBefore + bytes; return report('read', group); });
    progress.groupsDone++;
    if (w === null) { result.aborted = true; break; }
    pending.push({ ...w, replans });
    if (pending.length >= perCommit || queue.length === 0) await commitPending();
  }
  // Stopped early: what is written is committed (a finished step, no half commit); the rest waits.
  await commitPending();
  return finish();
}

/** A group whose replacement files are written but not yet committed. */
interface Written {
  group: CompactionGroup;
  written: DataFile[];
  bytesRead: number;
  replans: number;
}

async function discard(table: TableHandle, groups: Written[]): Promise<void> {
  await table.state.io.deleteMany(groups.flatMap((w) => w.written.map((f) => f.filePath))).catch(() => {});
}

async function commitGroups(table: TableHandle, groups: Written[], order: SortOrder, summary: Record<string, string> | undefined): Promise<bigint> {
  const rewrite = new RewriteFiles(table);
  for (const w of groups) {
    for (const f of w.group.files) rewrite.deleteFile(f);
    for (const f of w.written) rewrite.addFile(f);
  }
  rewrite.setAll(summary ?? {}).set(COMPACTION_SUMMARY_KEY, String(order.orderId)).set(COMPACTION_GROUPS_KEY, String(groups.length));
  return (await rewrite.commit()).snapshotId;
}

function planOptions(properties: Record<string, string>, opts: CompactOptions): CompactionPlanOptions {
  return {
    targetFileSizeBytes: opts.targetFileSizeBytes ?? targetFileSize(properties),
    minFileSizeBytes: opts.minFileSizeBytes, minInputFiles: opts.minInputFiles, maxBytes: opts.maxBytes, maxFiles: opts.maxFiles,
  };
}

async function planOnce(table: TableHandle, opts: CompactOptions, planOpts: CompactionPlanOptions, exclude?: Set<string>): Promise<CompactionPlan> {
  const scan = await planFiles(table.state.metadata, table.state.io, { filter: opts.filter });
  return planCompaction(exclude ? scan.files.filter((f) => !exclude.has(f.filePath)) : scan.files, planOpts);
}

function resolveSortOrder(declared: SortOrder, sort: boolean | undefined, name: string): SortOrder {
  if (sort === false) return UNSORTED;
  if (sort === true && declared.fields.length === 0) {
    throw new LakehouseError('INVALID_ARGUMENT', `Table ${name} declares no sort order, so its files cannot be compacted sorted; compact without sorting, or declare a sort order first.`);
  }
  return declared;
}

/**
 * Reads one group and writes its replacement files (nothing committed); null when the signal stopped it
 * part way (the files it wrote are deleted: nothing references them).
 */
async function writeGroup(
  table: TableHandle, group: CompactionGroup, order: SortOrder, opts: CompactOptions, onRead: (bytes: number) => Promise<void>,
): Promise<Omit<Written, 'replans'> | null> {
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
  if (stopped || opts.signal?.aborted) {
    await io.deleteMany(written.map((f) => f.filePath)).catch(() => {});
    return null;
  }
  if (order.fields.length > 0) for (const f of written) f.sortOrderId = order.orderId;
  return { group, written, bytesRead: readBytes };
}

/** The whole group in memory, sorted: a sort needs every row before the first is written. */
async function sortedBatches(input: AsyncIterable<arrow.RecordBatch>, schema: Schema, order: SortOrder): Promise<arrow.RecordBatch[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const b of input) for (const r of recordBatchToRows(b, schema)) rows.push(r);
  return rows.length === 0 ? [] : [rowsToRecordBatch(schema, sortRows(rows, schema, order))];
}

