import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../catalog/index.ts';
import { errorMessage } from '../core/errors.ts';
import { DEAD_LETTERED_KEY } from '../domain/ingest-summary-keys.ts';
import { T, Table, ancestorsOf, currentSchema, currentSnapshot, fromBinary, snapshotChanges } from '../iceberg/index.ts';
import { topicEndOffsets } from '../pipeline/kafka-client.ts';
import { findRecordedOffsets } from '../pipeline/offsets.ts';
import { type Endpoints, type StackSettings, CATALOG_NAME, endpointsFrom, parseEnvFile, stackPaths, stackPorts } from './stack-settings.ts';
import { portOpen, readSupervisorState, services, supervisorPid } from './stack.ts';

/**
 * `lakehouse stack status`: every part (up or down, pid, restarts), and the pipeline's vital signs read
 * from the sources of truth rather than from the processes: Kafka lag = the topic's end offsets minus the
 * positions recorded in campaign_events' snapshots; last commit age = now minus the newest ingest
 * snapshot; freshness = now minus the newest event_time committed (the upper bounds of the files the
 * newest ingest snapshots added: manifests only, no data read); dead letters per minute = the
 * `lakehouse.ingest.dead-lettered` counts of the ingest snapshots of the last 5 minutes, divided by 5.
 */
export interface PartReport {
  name: string;
  kind: 'service' | 'process' | 'daemon';
  up: boolean;
  pid: number | null;
  restarts: number;
  status: string;
  log: string | null;
  last_exit?: unknown;
}

export interface StackReport {
  running: boolean;
  state_dir: string;
  supervisor_pid: number | null;
  parts: PartReport[];
  kafka_lag: number | null;
  last_commit_age_seconds: number | null;
  freshness_seconds: number | null;
  dead_letters_per_minute: number | null;
  committed_events: number | null;
  urls: Record<string, string>;
  /** What could not be measured, and why (a part down, a table not there yet). */
  problems: string[];
}

const DEAD_LETTER_WINDOW_MS = 5 * 60_000;
/** Ingest snapshots looked at for the newest event_time (the newest events are in the newest files). */
const FRESHNESS_SNAPSHOTS = 3;

export async function stackStatus(s: StackSettings, now = Date.now): Promise<StackReport> {
  const paths = stackPaths(s.stateDir);
  const ports = stackPorts(s.portOffset);
  const problems: string[] = [];
  const supervisor = supervisorPid(s.stateDir);
  const parts: PartReport[] = [];

  let endpoints: Endpoints | null = null;
  try {
    const file = s.servicesEnv ?? path.join(paths.services, 'services.env');
    endpoints = endpointsFrom(parseEnvFile(file), file);
  } catch (e) {
    problems.push(errorMessage(e));
  }
  for (const name of services(s)) parts.push(await serviceReport(s, name, endpoints));

  const st = supervisor === null ? null : readSupervisorState(s.stateDir);
  for (const p of st?.parts ?? []) {
    parts.push({ name: p.name, kind: p.kind, up: p.status === 'running', pid: p.pid, restarts: p.restarts, status: p.status, log: p.log, last_exit: p.last_exit });
  }
  if (st === null) {
    for (const name of ['superset', 'ingest', 'metrics', 'producer']) {
      parts.push({ name, kind: name === 'superset' ? 'daemon' : 'process', up: false, pid: null, restarts: 0, status: 'stopped', log: path.join(paths.logs, `${name}.log`) });
    }
  }

  const urls: Record<string, string> = {
    superset: `http://127.0.0.1:${ports.superset}`,
    ingest_metrics: `http://127.0.0.1:${ports.ingestMetrics}/metrics`,
    logs: paths.logs,
  };
  if (endpoints) {
    urls.kafka = endpoints.brokers;
    urls.rest_catalog = endpoints.restUri;
    urls.s3 = endpoints.s3['s3.endpoint']!;
    if (s.servicesEnv === null) urls.minio_console = `http://127.0.0.1:${ports.minioConsole}`;
    if (s.trino && endpoints.trinoUri) urls.trino = endpoints.trinoUri;
  }

  const report: StackReport = {
    running: supervisor !== null, state_dir: s.stateDir, supervisor_pid: supervisor, parts,
    kafka_lag: null, last_commit_age_seconds: null, freshness_seconds: null, dead_letters_per_minute: null, committed_events: null,
    urls, problems,
  };
  if (endpoints) await measure(s, endpoints, report, now);
  return report;
}

async function serviceReport(s: StackSettings, name: string, e: Endpoints | null): Promise<PartReport> {
  const pidFile = path.join(stackPaths(s.stateDir).services, name, 'pid');
  let pid: number | null = null;
  if (s.servicesEnv === null) {
    try { pid = Number(readFileSync(pidFile, 'utf8').trim()) || null; } catch { pid = null; }
  }
  const url = e === null ? null
    : name === 'kafka' ? e.brokers.split(',')[0]!
      : name === 'minio' ? e.s3['s3.endpoint']!
        : name === 'iceberg-rest' ? e.restUri
          : e.trinoUri;
  const port = url ? Number(/:(\d+)(?:\/|$)/.exec(url)?.[1]) : NaN;
  const up = Number.isFinite(port) && (await portOpen(port));
  const log = s.servicesEnv === null ? path.join(stackPaths(s.stateDir).services, name, `${name}.log`) : null;
  return { name, kind: 'service', up, pid: up ? pid : null, restarts: 0, status: up ? 'running' : 'stopped', log };
}

async function measure(s: StackSettings, e: Endpoints, r: StackReport, now: () => number): Promise<void> {
  let catalog;
  try {
    catalog = await loadCatalog({ name: CATALOG_NAME, configFile: stackPaths(s.stateDir).config, env: {}, overrides: {} });
    const id = { namespace: [s.namespace], name: 'campaign_events' };
    if (!(await catalog.tableExists(id))) { r.problems.push(`${s.namespace}.campaign_events does not exist yet.`); return; }
    const table = new Table(catalog, await catalog.loadTable(id));
    const m = table.metadata;
    const head = currentSnapshot(m);
    r.committed_events = head ? Number(head.summary['total-records'] ?? 0) : 0;
    const ingest = ancestorsOf(m, head?.snapshotId ?? null).filter((x) => x.summary[DEAD_LETTERED_KEY] !== undefined);
    const t = now();
    if (ingest[0]) r.last_commit_age_seconds = round((t - ingest[0].timestampMs) / 1000);
    const recent = ingest.filter((x) => x.timestampMs >= t - DEAD_LETTER_WINDOW_MS);
    r.dead_letters_per_minute = round(recent.reduce((a, x) => a + Number(x.summary[DEAD_LETTERED_KEY]), 0) / (DEAD_LETTER_WINDOW_MS / 60_000));
    const fieldId = currentSchema(m).fields.find((f) => f.name === 'event_time')?.id;
    let newest: bigint | null = null;
    for (const snap of ingest.slice(0, FRESHNESS_SNAPSHOTS)) {
      for (const f of (await snapshotChanges(table.io, snap)).added) {
        const b = fieldId === undefined ? undefined : f.upperBounds?.get(fieldId);
        if (!b) continue;
        const v = fromBinary(T.timestamptz(), b) as bigint;
        if (newest === null || v > newest) newest = v;
      }
    }
    if (newest !== null) r.freshness_seconds = round((t - Number(newest / 1000n)) / 1000);
    try {
      const ends = await topicEndOffsets({ brokers: e.brokers.split(','), retries: 1, connectionTimeoutMs: 2000 }, s.topic);
      const recorded = findRecordedOffsets(m, s.group).positions;
      let lag = 0n;
      for (const [partition, end] of ends) {
        const at = recorded.get(`${s.topic}:${partition}`);
        lag += end - (at ?? 0n);
      }
      r.kafka_lag = Number(lag);
    } catch (err) {
      r.problems.push(`Kafka lag: ${errorMessage(err)}`);
    }
  } catch (err) {
    r.problems.push(`The table could not be read: ${errorMessage(err)}`);
  } finally {
    await catalog?.close();
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
