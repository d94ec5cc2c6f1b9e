import type { Catalog } from '../catalog/catalog.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import { type CompactOptions, type ExpireOptions, Table, type TableIdentifier, identifierToString } from '../iceberg/index.ts';
import type { MaintenanceMetrics } from './maintenance-metrics.ts';
import { removeUnusedEventIndexFiles } from './event-index-cleanup.ts';
import { expireKeepingWriters } from './retention.ts';

/**
 * `lakehouse maintain`: keeps tables healthy beside ingest and the metrics job, as a list of steps run in
 * order on each table, once or on a schedule. A step is a function of one table; each commits through the
 * table's own operations (one atomic catalog commit each), so stopping between two steps, or a step
 * abandoning its work on the stop signal before its commit, never leaves a half commit.
 */

export interface StepContext {
  catalog: Catalog;
  table: Table;
  dryRun: boolean;
  /** Set when the process is asked to stop: a step stops at its next safe point (before a commit). */
  signal: AbortSignal;
  log: Logger;
  metrics?: MaintenanceMetrics;
}

/** What a step did, for logs and --json (plain values). */
export type StepReport = Record<string, unknown>;

export interface MaintenanceStep {
  name: string;
  run(ctx: StepContext): Promise<StepReport>;
}

export interface MaintenanceSettings {
  compaction?: Omit<CompactOptions, 'dryRun' | 'signal' | 'onProgress'>;
  expire?: Pick<ExpireOptions, 'olderThanMs' | 'retainLast'>;
  /** Orphan files must be older than this age (ms) to go; default 3 days, so no commit in flight is touched. */
  orphanAgeMs?: number;
}

/** What an orphan must have aged before maintenance deletes it: far beyond any commit's duration. */
export const ORPHAN_AGE_MS_DEFAULT = 3 * 24 * 3600_000;

/**
 * The steps, in the order they run on a table. Compaction first, so that expiry (with the age rule) can
 * later free what compaction replaced; manifests are rewritten after compaction has cut the file count;
 * the metrics job's unused event index files right after expiry, which is what leaves them unused;
 * orphan removal last, after expiry has deleted what it frees, to sweep what crashed writers left.
 */
export function maintenanceSteps(s: MaintenanceSettings = {}): MaintenanceStep[] {
  return [
    compactionStep(s.compaction ?? {}),
    manifestsStep(),
    expiryStep(s.expire ?? {}),
    eventIndexStep(s.orphanAgeMs ?? ORPHAN_AGE_MS_DEFAULT),
    orphansStep(s.orphanAgeMs ?? ORPHAN_AGE_MS_DEFAULT),
  ];
}

export function compactionStep(opts: Omit<CompactOptions, 'dryRun' | 'signal' | 'onProgress'>): MaintenanceStep {
  return {
    name: 'compact',
    async run(ctx) {
      const r = await ctx.table.compact({ ...opts, dryRun: ctx.dryRun, signal: ctx.signal });
      const t = { table: ctx.table.name };
      if (!ctx.dryRun) {
        ctx.metrics?.filesCompacted.inc(r.filesRemoved, t);
        ctx.metrics?.filesWritten.inc(r.filesAdded, t);
        ctx.metrics?.bytesRewritten.inc(r.bytesRead, t);
        ctx.metrics?.groupsSkipped.inc(r.skipped.length, t);
      }
      return {
        groupsPlanned: r.plan.groups.length, groupsDeferred: r.plan.deferred.length, filesPlanned: r.plan.groups.reduce((a, g) => a + g.files.length, 0),
        groupsCommitted: r.committed.length, groupsSkipped: r.skipped.length, filesRemoved: r.filesRemoved, filesAdded: r.filesAdded,
        bytesRead: r.bytesRead, bytesWritten: r.bytesWritten, aborted: r.aborted,
      };
    },
  };
}

/** Manifest rewrite as `lakehouse tables rewrite-manifests` does it; a table with few manifests is left alone. */
export function manifestsStep(): MaintenanceStep {
  return {
    name: 'rewrite-manifests',
    async run(ctx) {
      const r = await ctx.table.rewriteManifests({ dryRun: ctx.dryRun });
      if (!ctx.dryRun) ctx.metrics?.manifestsReplaced.inc(r.replaced, { table: ctx.table.name });
      return { manifestsBefore: r.manifestsBefore, manifestsAfter: r.manifestsAfter, replaced: r.replaced, created: r.created };
    },
  };
}

/** Orphan removal as `lakehouse tables remove-orphans` does it, with an age guard of `ageMs`. */
export function orphansStep(ageMs: number): MaintenanceStep {
  return {
    name: 'remove-orphans',
    async run(ctx) {
      const r = await ctx.table.removeOrphanFiles({ olderThanMs: Date.now() - ageMs, dryRun: ctx.dryRun });
      if (!ctx.dryRun) ctx.metrics?.orphansDeleted.inc(r.orphans.length, { table: ctx.table.name });
      return { filesListed: r.filesListed, orphans: r.orphans.length, orphanBytes: r.orphanBytes, keptTooNew: r.keptTooNew };
    },
  };
}

/**
 * The metrics job's event index files that no kept snapshot points at (maintenance/event-index-cleanup.ts),
 * with the orphan age guard: a metrics run writes its index files before it commits, so younger files may
 * be a run in progress. Tables that are not metrics tables report `metricsTable: false` and are not touched.
 */
export function eventIndexStep(ageMs: number): MaintenanceStep {
  return {
    name: 'remove-event-index',
    async run(ctx) {
      const r = await removeUnusedEventIndexFiles(ctx.table, { olderThanMs: Date.now() - ageMs, dryRun: ctx.dryRun });
      if (!ctx.dryRun) ctx.metrics?.eventIndexFilesDeleted.inc(r.deleted.length, { table: ctx.table.name });
      return { metricsTable: r.metricsTable, filesListed: r.filesListed, filesReferenced: r.filesReferenced, unused: r.deleted.length, unusedBytes: r.deletedBytes, keptTooNew: r.keptTooNew };
    },
  };
}

/** Snapshot expiry as `lakehouse tables expire` does it: never past what ingest and the metrics job need. */
export function expiryStep(opts: Pick<ExpireOptions, 'olderThanMs' | 'retainLast'>): MaintenanceStep {
  return {
    name: 'expire',
    async run(ctx) {
      const r = await expireKeepingWriters(ctx.catalog, ctx.table, { ...opts, dryRun: ctx.dryRun });
      const deleted = r.deletedDataFiles.length + r.deletedManifests.length + r.deletedManifestLists.length;
      if (!ctx.dryRun) {
        ctx.metrics?.snapshotsExpired.inc(r.expiredSnapshotIds.length, { table: ctx.table.name });
        ctx.metrics?.filesDeleted.inc(deleted, { table: ctx.table.name });
      }
      return {
        snapshotsExpired: r.expiredSnapshotIds.length, dataFilesDeleted: r.deletedDataFiles.length, manifestsDeleted: r.deletedManifests.length,
        manifestListsDeleted: r.deletedManifestLists.length, keptForMetrics: r.retention.metricsReaders,
      };
    },
  };
}

export interface StepOutcome {
  table: string;
  step: string;
  outcome: 'ok' | 'failed' | 'skipped';
  seconds: number;
  report?: StepReport;
  error?: { code: string; message: string };
}

export interface MaintenancePass {
  startedAt: string;
  dryRun: boolean;
  steps: StepOutcome[];
  /** Stopped by the signal before every step ran. */
  stopped: boolean;
  seconds: number;
}

export interface MaintainOptions {
  catalog: Catalog;
  /** Tables to maintain; every table of every namespace when empty. */
  tables: TableIdentifier[];
  steps: MaintenanceStep[];
  dryRun?: boolean;
  signal?: AbortSignal;
  log?: Logger;
  metrics?: MaintenanceMetrics;
}

/** Every table of every namespace (nested ones included). */
export async function allTables(catalog: Catalog): Promise<TableIdentifier[]> {
  const out: TableIdentifier[] = [];
  const walk = async (parent?: string[]) => {
    for (const ns of await catalog.listNamespaces(parent)) {
      out.push(...(await catalog.listTables(ns)));
      await walk(ns);
    }
  };
  await walk();
  return out;
}

/**
 * Checks that every named table exists before anything runs, so a typo fails at once with a sentence and
 * nothing written, instead of in the middle of a schedule.
 */
export async function resolveTables(catalog: Catalog, tables: TableIdentifier[]): Promise<TableIdentifier[]> {
  for (const id of tables) {
    if (!(await catalog.tableExists(id))) {
      throw new LakehouseError('TABLE_NOT_FOUND', `Table ${identifierToString(id)} does not exist in catalog ${catalog.name}; check the name (lakehouse tables list) or leave the table out to maintain every table.`);
    }
  }
  return tables;
}

/**
 * One pass: every step on every table, in order. A failing step is logged and counted and the pass goes
 * on (one broken table must not starve the others); the stop signal ends the pass between two steps, and
 * a step in progress stops at its own next safe point.
 */
export async function maintainOnce(opts: MaintainOptions): Promise<MaintenancePass> {
  const started = performance.now();
  const log = opts.log ?? silentLogger;
  const signal = opts.signal ?? new AbortController().signal;
  const dryRun = Boolean(opts.dryRun);
  const ids = opts.tables.length > 0 ? opts.tables : await allTables(opts.catalog);
  const pass: MaintenancePass = { startedAt: new Date().toISOString(), dryRun, steps: [], stopped: false, seconds: 0 };
  for (const id of ids) {
    const name = identifierToString(id);
    for (const step of opts.steps) {
      if (signal.aborted) {
        pass.stopped = true;
        pass.steps.push({ table: name, step: step.name, outcome: 'skipped', seconds: 0 });
        opts.metrics?.steps.inc(1, { step: step.name, table: name, outcome: 'skipped' });
        continue;
      }
      const t0 = performance.now();
      try {
        // Loaded per step: each starts from the newest table state, whatever the previous step or other writers committed.
        const table = new Table(opts.catalog, await opts.catalog.loadTable(id));
        const report = await step.run({ catalog: opts.catalog, table, dryRun, signal, log, metrics: opts.metrics });
        const seconds = (performance.now() - t0) / 1000;
        pass.steps.push({ table: name, step: step.name, outcome: 'ok', seconds, report });
        opts.metrics?.steps.inc(1, { step: step.name, table: name, outcome: 'ok' });
        opts.metrics?.stepSeconds.observe(seconds);
        opts.metrics?.lastSuccess.set(Date.now() / 1000, { step: step.name, table: name });
        log.info('maintenance step done', { table: name, step: step.name, seconds: Number(seconds.toFixed(3)), dryRun, ...report });
      } catch (e) {
        const seconds = (performance.now() - t0) / 1000;
        const error = { code: e instanceof LakehouseError ? e.code : 'INTERNAL', message: errorMessage(e) };
        pass.steps.push({ table: name, step: step.name, outcome: 'failed', seconds, error });
        opts.metrics?.steps.inc(1, { step: step.name, table: name, outcome: 'failed' });
        log.error('maintenance step failed', { table: name, step: step.name, error: error.message, code: error.code });
      }
    }
    if (!dryRun && opts.metrics) {
      const files = await new Table(opts.catalog, await opts.catalog.loadTable(id)).planFiles().then((p) => p.files.length, () => undefined);
      if (files !== undefined) opts.metrics.dataFiles.set(files, { table: name });
    }
  }
  pass.seconds = (performance.now() - started) / 1000;
  opts.metrics?.passes.inc();
  return pass;
}

/**
 * Passes every `everyMs` until the signal: the wait is cut short by it, a pass in progress stops at the
 * next safe point. `onPass` sees each pass (the CLI prints it).
 */
export async function maintainEvery(opts: MaintainOptions & { everyMs: number; onPass?: (p: MaintenancePass) => void }): Promise<number> {
  const signal = opts.signal ?? new AbortController().signal;
  let passes = 0;
  while (!signal.aborted) {
    const t0 = Date.now();
    try {
      opts.onPass?.(await maintainOnce(opts));
    } catch (e) {
      // Listing the tables failed (the catalog is down, say): the next pass tries again.
      (opts.log ?? silentLogger).error('maintenance pass failed; trying again at the next interval', { error: errorMessage(e) });
    }
    passes++;
    const wait = Math.max(0, opts.everyMs - (Date.now() - t0));
    if (signal.aborted) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); }
      signal.addEventListener('abort', done);
    });
  }
  return passes;
}
