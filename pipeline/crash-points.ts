/**
 * Named places where the crash test (tests/integration/kafka-crash.test.ts) kills the ingest
 * process with a real `kill -9`, to prove that a crash inside any step of a flush neither loses nor
 * duplicates an event.
 *
 * Inert unless the environment names a point: `LAKEHOUSE_CRASH_AT=<name>` kills the process the first
 * time `crashPoint(<name>)` is reached, `LAKEHOUSE_CRASH_AT=<name>:<n>` the n-th time. The kill is
 * SIGKILL sent to ourselves: no finally block, no buffered write, no graceful shutdown runs, exactly as
 * when the machine or the OOM killer takes the process away. Without the variable a call returns at
 * once.
 *
 * The points in pipeline/ingest.ts mark the steps of a flush. Steps inside the table format (between
 * two data files, between the manifest list and the metadata file, between the metadata file and the
 * catalog's compare-and-swap) are reached from the test's worker through a FileIO wrapper that calls
 * crashPoint (tests/support/ingest-crash-worker.ts): iceberg/ imports no sibling, and wrapping the
 * FileIO the catalog already accepts needs no hook in iceberg/ or catalog/.
 */
import { LakehouseError } from '../core/errors.ts';

export const CRASH_AT_ENV = 'LAKEHOUSE_CRASH_AT';

/** The points pipeline/ingest.ts passes, in the order a flush reaches them. */
export const FLUSH_CRASH_POINTS = {
  /** Step 1 done: the flush's dead letters are durable; no data file written yet. */
  deadLettersFlushed: 'flush.dead-letters-flushed',
  /** Step 2 done: every data file of the flush is written; the Iceberg commit has not started. */
  filesWritten: 'flush.files-written',
  /** Step 3 done: the snapshot with the positions landed; Kafka's group offsets are not yet committed. */
  tableCommitted: 'flush.table-committed',
  /** Step 4 done: Kafka's group offsets are committed too; the flush's counters are not yet updated. */
  sourceCommitted: 'flush.source-committed',
} as const;

/**
 * Points inside the table format, reached by the crash test's worker through its FileIO wrapper after
 * a write completes (named here so the test and the worker share them).
 */
export const TABLE_CRASH_POINTS = {
  /** After a data file (Parquet) is written; `:2` is in the middle of a flush that writes several. */
  dataFileWritten: 'io.data-file-written',
  /** After a commit's manifests and manifest list, before its metadata file. */
  manifestListWritten: 'io.manifest-list-written',
  /** After the commit's new metadata file, before the catalog's compare-and-swap makes it current. */
  metadataWritten: 'io.metadata-written',
} as const;

interface Target {
  name: string;
  /** Kill on this (1-based) arrival at the point. */
  nth: number;
}

function parseTarget(text: string | undefined): Target | null {
  if (text === undefined || text.trim() === '') return null;
  const m = /^([A-Za-z0-9._-]+)(?::(\d+))?$/.exec(text.trim());
  if (!m || (m[2] !== undefined && Number(m[2]) < 1)) {
    // A typo would otherwise make a crash test pass without crashing anything.
    throw new LakehouseError('INVALID_CONFIG', `${CRASH_AT_ENV}="${text}" is not <point>[:<n>] with n >= 1 (e.g. flush.files-written:2).`);
  }
  return { name: m[1]!, nth: m[2] === undefined ? 1 : Number(m[2]) };
}

const target = parseTarget(process.env[CRASH_AT_ENV]);
const arrivals = new Map<string, number>();

/** Kills this process with SIGKILL if LAKEHOUSE_CRASH_AT names this point (and this arrival); else nothing. */
export function crashPoint(name: string): void {
  if (target === null || target.name !== name) return;
  const n = (arrivals.get(name) ?? 0) + 1;
  arrivals.set(name, n);
  if (n !== target.nth) return;
  // One line for the test's log, written synchronously: nothing after the kill gets a chance.
  process.stderr.write(`${JSON.stringify({ crashPoint: name, arrival: n, pid: process.pid })}\n`);
  process.kill(process.pid, 'SIGKILL');
}
