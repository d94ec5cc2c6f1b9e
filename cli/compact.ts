import { Command, Option } from 'commander';
import { type CompactionGroup, type CompactionResult, type Table, formatValue, partitionType, type PrimitiveType, specById } from '../iceberg/index.ts';
import { createLogger } from '../core/log.ts';
import { globalOptions, openTable, withCatalog } from './context.ts';
import { handleExitPaths } from './exit-paths.ts';
import { byteSize, positiveInt } from './options.ts';
import { formatBytes, printJson, printTable } from './output.ts';
import { progress } from './progress.ts';

/**
 * `lakehouse compact <table>`: bin-packs the small data files of each partition into files of the table's
 * write.target-file-size-bytes (iceberg/ops/compact-files.ts), in one `replace` snapshot.
 */
export interface CompactCliOptions {
  where?: string;
  minFileSize?: number;
  targetFileSize?: number;
  maxBytes?: number;
  maxFiles?: number;
  sort?: boolean;
  dryRun?: boolean;
}

/** The flags compact and maintain share. */
export function compactionOptions(cmd: Command): Command {
  return cmd
    .option('-w, --where <filter>', `which partitions: files whose partition (or column bounds) might match this row filter, e.g. "event_time >= '2026-11-01T00:00:00Z'"`)
    .addOption(new Option('--min-file-size <size>', 'files smaller than this are compacted (default 75% of the target)').argParser(byteSize('--min-file-size')))
    .addOption(new Option('--target-file-size <size>', 'size of the files written (default: the table\'s write.target-file-size-bytes, 512 MiB unless set)').argParser(byteSize('--target-file-size')))
    .addOption(new Option('--max-bytes <size>', 'rewrite at most this many input bytes per run').argParser(byteSize('--max-bytes')))
    .addOption(new Option('--max-files <n>', 'rewrite at most this many input files per run').argParser(positiveInt('--max-files')))
    .option('--no-sort', 'do not sort rows by the table\'s sort order (default: sort when the table declares one)');
}

export function compactCommand(): Command {
  return compactionOptions(new Command('compact'))
    .description('bin-pack the small data files of each partition into files of the target size, optionally sorted; safe while ingest and the metrics job commit')
    .argument('<table>', 'table name, [namespace.]table; the namespace defaults to "lakehouse"')
    .option('--dry-run', 'print the plan (groups of files per partition), write nothing')
    .addHelpText('after', `
Small files are packed per partition into groups of at most the target size; each group is rewritten
as new files and all of them are committed as one replace snapshot: the rows stay the same, readers see
no change, the metrics job does no work for it. If another writer removed one of a group's files
meanwhile (an overwrite, another compaction), that group is dropped from the commit and planned again
from the new table state once, then skipped; no row is lost or doubled. Stopped by a signal, the groups
already written are committed and the one in progress is dropped.

Examples:
  $ lakehouse compact campaign_events --dry-run
  $ lakehouse compact campaign_events --where "event_time >= '2026-11-01T00:00:00Z'" --max-bytes 2GiB
  $ lakehouse compact lakehouse.campaign_events --min-file-size 32MiB --json`)
    .action(async (name: string, o: CompactCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const table = await openTable(catalog, name);
        // The first Ctrl-C / SIGTERM stops at the next file: finished groups are committed, the one in progress dropped.
        const abort = new AbortController();
        const removeHandlers = handleExitPaths({ log: createLogger({ level: 'warn' }), stop: () => abort.abort(), release: async () => {} });
        let r: CompactionResult;
        try {
          r = await runCompaction(table, o, { json: Boolean(g.json), signal: abort.signal });
        } finally {
          removeHandlers();
        }
        if (g.json) printJson(compactionJson(table, r));
        else printCompaction(table, r);
      });
    });
}

/** One compaction of a table with a progress bar (stderr) unless quiet; what compact and maintain run. */
export async function runCompaction(table: Table, o: CompactCliOptions, out: { json: boolean; signal?: AbortSignal; quiet?: boolean }): Promise<CompactionResult> {
  let bar: ReturnType<typeof progress> | undefined;
  const r = await table.compact({
    filter: o.where, minFileSizeBytes: o.minFileSize, targetFileSizeBytes: o.targetFileSize, maxBytes: o.maxBytes, maxFiles: o.maxFiles,
    sort: o.sort === false ? false : undefined, dryRun: o.dryRun, signal: out.signal,
    onProgress: (p) => {
      bar ??= progress({ label: `compact ${table.name}`, total: p.bytesTotal, unit: 'bytes', mode: out.json || out.quiet ? false : 'auto' });
      bar.setTotal(p.bytesTotal);
      bar.update(p.bytesDone, `group ${Math.min(p.groupsDone + 1, p.groupsTotal)}/${p.groupsTotal}${p.detail ? ` (${p.detail})` : ''}`);
    },
  });
  bar?.finish(`${r.committed.length} group(s) committed${r.skipped.length ? `, ${r.skipped.length} skipped` : ''}${r.aborted ? ', stopped early' : ''}`);
  return r;
}

function partitionText(table: Table, specId: number, values: unknown[]): string {
  const spec = specById(table.metadata, specId);
  if (spec.fields.length === 0) return '(unpartitioned)';
  const types = partitionType(spec, table.schema()).fields.map((f) => f.type as PrimitiveType);
  return spec.fields.map((f, i) => `${f.name}=${values[i] === null ? 'null' : formatValue(types[i]!, values[i] as never)}`).join('/');
}

const groupJson = (table: Table, g: CompactionGroup) => ({
  partition: partitionText(table, g.specId, g.partition), files: g.files.length, bytes: g.bytes, records: g.records,
  paths: g.files.map((f) => f.filePath),
});

export function compactionJson(table: Table, r: CompactionResult) {
  return {
    table: r.table, dryRun: r.dryRun, sortOrderId: r.sortOrderId,
    plan: {
      targetFileSizeBytes: r.plan.targetFileSizeBytes, minFileSizeBytes: r.plan.minFileSizeBytes, filesConsidered: r.plan.filesConsidered, smallFiles: r.plan.smallFiles,
      groups: r.plan.groups.map((g) => groupJson(table, g)), deferred: r.plan.deferred.map((g) => groupJson(table, g)),
    },
    committed: r.committed.map((c) => ({ ...c, partition: partitionText(table, c.specId, c.partition) })),
    skipped: r.skipped.map((s) => ({ ...s, partition: partitionText(table, s.specId, s.partition) })),
    aborted: r.aborted, filesRemoved: r.filesRemoved, filesAdded: r.filesAdded, bytesRead: r.bytesRead, bytesWritten: r.bytesWritten, seconds: r.seconds,
  };
}

function printCompaction(table: Table, r: CompactionResult): void {
  const p = r.plan;
  const head = `${r.table}: ${p.smallFiles} of ${p.filesConsidered} data file(s) are under ${formatBytes(p.minFileSizeBytes)}; target ${formatBytes(p.targetFileSizeBytes)}${r.sortOrderId ? `, sorted by sort order ${r.sortOrderId}` : ''}.`;
  if (r.dryRun) {
    process.stdout.write(`${head}\n`);
    if (p.groups.length === 0) {
      process.stdout.write('Nothing to compact.\n');
      return;
    }
    printTable(['partition', 'files', 'bytes', 'records'], p.groups.map((g) => [partitionText(table, g.specId, g.partition), String(g.files.length), formatBytes(g.bytes), String(g.records)]));
    const files = p.groups.reduce((a, g) => a + g.files.length, 0);
    process.stdout.write(`\nWould rewrite ${files} file(s) (${formatBytes(p.groups.reduce((a, g) => a + g.bytes, 0))}) in ${p.groups.length} group(s)${p.deferred.length ? `; ${p.deferred.length} group(s) left for a later run by --max-bytes/--max-files` : ''}. Nothing was written.\n`);
    return;
  }
  process.stdout.write(`${head}\n`);
  if (p.groups.length === 0) {
    process.stdout.write('Nothing to compact.\n');
    return;
  }
  process.stdout.write(`Compacted ${r.filesRemoved} file(s) into ${r.filesAdded} in ${r.committed.length} snapshot(s): read ${formatBytes(r.bytesRead)}, wrote ${formatBytes(r.bytesWritten)} in ${r.seconds.toFixed(1)} s.\n`);
  for (const s of r.skipped) process.stdout.write(`Skipped ${partitionText(table, s.specId, s.partition)} (${s.files} files): ${s.reason}\n`);
  if (p.deferred.length) process.stdout.write(`${p.deferred.length} group(s) left for a later run (--max-bytes/--max-files).\n`);
  if (r.aborted) process.stdout.write('Stopped before every group was done; run again to continue.\n');
}
