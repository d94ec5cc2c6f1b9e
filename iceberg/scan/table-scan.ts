import { LakehouseError } from '../../core/errors.ts';
import type { Expr, BoundExpr } from '../expr/expressions.ts';
import { alwaysTrue, bind } from '../expr/expressions.ts';
import { parseFilter } from '../expr/expression-parser.ts';
import { evaluatePartition, manifestMightMatch, metricsMightMatch } from '../expr/evaluators.ts';
import type { FileIO } from '../io/file-io.ts';
import type { DataFile, ManifestEntry, ManifestFile } from '../spec/manifest/manifest-types.ts';
import { ManifestContent, ManifestEntryStatus } from '../spec/manifest/manifest-types.ts';
import { partitionType, readManifest } from '../spec/manifest/manifest.ts';
import { readManifestList } from '../spec/manifest/manifest-list.ts';
import { inclusiveProjection, type PartitionExpr } from '../expr/projection.ts';
import type { Schema } from '../spec/schema.ts';
import type { Snapshot, TableMetadata } from '../spec/table-metadata.ts';
import { currentSchema, currentSnapshot, schemaById, snapshotAsOf, snapshotById, specById } from '../spec/table-metadata.ts';
import type { PrimitiveType } from '../spec/types.ts';

/**
 * Scan planning (spec "Scan Planning"): pick a snapshot, read its manifest list, skip manifests whose
 * partition summaries cannot match, skip entries whose partition tuple or column bounds cannot match,
 * and return the live data files. This is what the DuckDB jobs and the SQL command read.
 */
export interface ScanOptions {
  /** Exact snapshot; wins over `asOfMs` and `ref`. */
  snapshotId?: bigint;
  /** The snapshot that was current at this time (ms since epoch). */
  asOfMs?: number;
  /** A branch or tag; default `main`. */
  ref?: string;
  /** Row filter as an expression or in the small SQL-like syntax (`event_type = 'click' AND ...`). */
  filter?: Expr | string;
  caseSensitive?: boolean;
  /** Manifests read at once. */
  concurrency?: number;
  /** Parsed manifest lists and manifests kept from earlier plans (a long-running process). */
  manifestCache?: ManifestCache;
}

/**
 * Parsed manifest lists and manifests, kept between the plans of a long-running process (`metrics run
 * --every`): Iceberg never rewrites a manifest or manifest-list file in place (a change writes new files), so
 * a parse cached by path is exact. A manifest's entries are typed with the schema of the snapshot planned,
 * which is part of its key. At most `capacity` files are kept; the least recently used go first.
 */
export class ManifestCache {
  private readonly parsed = new Map<string, Promise<unknown>>();

  constructor(readonly capacity = 4096) {}

  manifestList(io: FileIO, location: string): Promise<ManifestFile[]> {
    return this.get(`list ${location}`, () => readManifestList(io, location));
  }

  liveEntries(io: FileIO, manifest: ManifestFile, schema: Schema): Promise<ManifestEntry[]> {
    return this.get(`manifest ${schema.schemaId} ${manifest.manifestPath}`, () => liveEntries(io, manifest, schema));
  }

  private get<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.parsed.get(key) as Promise<T> | undefined;
    if (p) {
      this.parsed.delete(key);
    } else {
      // A failed read is not kept: the next plan tries again.
      p = load();
      p.catch(() => { if (this.parsed.get(key) === p) this.parsed.delete(key); });
    }
    this.parsed.set(key, p);
    while (this.parsed.size > this.capacity) this.parsed.delete(this.parsed.keys().next().value!);
    return p;
  }
}

export interface ScanPlan {
  snapshot: Snapshot | null;
  schema: Schema;
  filter: BoundExpr;
  files: DataFile[];
  metrics: { manifestsTotal: number; manifestsSkipped: number; filesTotal: number; filesSkipped: number };
}

export function resolveSnapshot(metadata: TableMetadata, opts: Pick<ScanOptions, 'snapshotId' | 'asOfMs' | 'ref'>): Snapshot | null {
  if (opts.snapshotId !== undefined) {
    const s = snapshotById(metadata, opts.snapshotId);
    if (!s) {
      const known = metadata.snapshots.map((x) => x.snapshotId.toString()).slice(-5).join(', ');
      throw new LakehouseError('NOT_FOUND', `Snapshot ${opts.snapshotId} is not in the table (it may have been expired); recent snapshots: ${known || 'none'}.`);
    }
    return s;
  }
  if (opts.asOfMs !== undefined) {
    const s = snapshotAsOf(metadata, opts.asOfMs);
    if (!s) throw new LakehouseError('NOT_FOUND', `The table has no snapshot at or before ${new Date(opts.asOfMs).toISOString()}.`);
    return s;
  }
  if (opts.ref !== undefined) {
    const r = metadata.refs[opts.ref];
    if (!r) throw new LakehouseError('NOT_FOUND', `Branch or tag "${opts.ref}" does not exist; refs are: ${Object.keys(metadata.refs).join(', ') || 'none'}.`);
    return snapshotById(metadata, r.snapshotId) ?? null;
  }
  return currentSnapshot(metadata);
}

/** The schema a snapshot was written with (time travel reads with the schema of its time). */
export function snapshotSchema(metadata: TableMetadata, snapshot: Snapshot | null): Schema {
  if (snapshot?.schemaId !== undefined && snapshot.schemaId !== null) {
    try {
      return schemaById(metadata, snapshot.schemaId);
    } catch {
      // Older writers may reference pruned schemas; the current schema is Java's fallback too.
    }
  }
  return currentSchema(metadata);
}

/** Prunes with one projected expression per partition spec, cached. */
export class ManifestPruner {
  private readonly projected = new Map<number, { expr: PartitionExpr; types: PrimitiveType[] }>();
  constructor(private readonly metadata: TableMetadata, private readonly schema: Schema, readonly filter: BoundExpr) {}

  private forSpec(specId: number) {
    let p = this.projected.get(specId);
    if (!p) {
      const spec = specById(this.metadata, specId);
      p = {
        expr: inclusiveProjection(this.filter, spec, this.schema),
        types: partitionType(spec, this.schema).fields.map((f) => f.type as PrimitiveType),
      };
      this.projected.set(specId, p);
    }
    return p;
  }

  manifestMightMatch(m: ManifestFile): boolean {
    const p = this.forSpec(m.partitionSpecId);
    return manifestMightMatch(p.expr, m.partitions, p.types);
  }

  fileMightMatch(f: DataFile): boolean {
    return evaluatePartition(this.forSpec(f.specId).expr, f.partition) && metricsMightMatch(this.filter, f);
  }
}

export function bindFilter(schema: Schema, filter: Expr | string | undefined, caseSensitive = true): BoundExpr {
  const expr = filter === undefined ? alwaysTrue() : typeof filter === 'string' ? parseFilter(filter) : filter;
  return bind(expr, schema, caseSensitive);
}

/** Runs `fn` over items with at most `limit` in flight, keeping result order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function liveEntries(io: FileIO, manifest: ManifestFile, schema: Schema): Promise<ManifestEntry[]> {
  const entries = await readManifest(io, manifest, { schema });
  return entries.filter((e) => e.status !== ManifestEntryStatus.DELETED);
}

export async function planFiles(metadata: TableMetadata, io: FileIO, opts: ScanOptions = {}): Promise<ScanPlan> {
  const snapshot = resolveSnapshot(metadata, opts);
  const schema = snapshotSchema(metadata, snapshot);
  const filter = bindFilter(schema, opts.filter, opts.caseSensitive ?? true);
  const metrics = { manifestsTotal: 0, manifestsSkipped: 0, filesTotal: 0, filesSkipped: 0 };
  if (!snapshot) return { snapshot, schema, filter, files: [], metrics };

  const cache = opts.manifestCache;
  const manifests = await (cache ? cache.manifestList(io, snapshot.manifestList) : readManifestList(io, snapshot.manifestList));
  if (manifests.some((m) => m.content === ManifestContent.DELETES && m.addedFilesCount + m.existingFilesCount > 0)) {
    throw new LakehouseError('UNSUPPORTED', `Snapshot ${snapshot.snapshotId} has delete files (merge-on-read row deletes), which lakehouse cannot apply yet; rewrite the table with copy-on-write (e.g. Spark rewrite_data_files) first.`);
  }
  const pruner = new ManifestPruner(metadata, schema, filter);
  const data = manifests.filter((m) => m.content === ManifestContent.DATA);
  metrics.manifestsTotal = data.length;
  const candidates = data.filter((m) => pruner.manifestMightMatch(m));
  metrics.manifestsSkipped = data.length - candidates.length;
  const perManifest = await mapLimit(candidates, opts.concurrency ?? 8, (m) => (cache ? cache.liveEntries(io, m, schema) : liveEntries(io, m, schema)));
  const files: DataFile[] = [];
  for (const entries of perManifest) {
    for (const e of entries) {
      metrics.filesTotal++;
      if (pruner.fileMightMatch(e.dataFile)) files.push(e.dataFile);
      else metrics.filesSkipped++;
    }
  }
  return { snapshot, schema, filter, files, metrics };
}
