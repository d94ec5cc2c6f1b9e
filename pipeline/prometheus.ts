import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LakehouseError, errorMessage } from '../core/errors.ts';

/**
 * Prometheus metrics without a client library: a registry of counters, gauges and histograms rendered in
 * the text exposition format 0.0.4, and a tiny node:http server for `/metrics`. Enough for what ingest
 * exposes; no summaries, no exemplars.
 */
export type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? '' : '{' + keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',') + '}';
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

interface Metric {
  readonly name: string;
  readonly help: string;
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(by = 1, labels: Labels = {}): void {
    if (by < 0) throw new LakehouseError('INVALID_ARGUMENT', `Counter ${this.name} can only go up; got an increment of ${by}.`);
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${formatNumber(v)}`);
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  /** Forget a labelled series (e.g. the lag of a partition this consumer no longer owns). */
  remove(labels: Labels): void {
    this.values.delete(labelKey(labels));
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${formatNumber(v)}`);
    return lines.join('\n');
  }
}

/** Cumulative buckets plus sum and count, unlabelled (one series is all ingest needs per latency). */
export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]!++;
  }

  get observations(): { count: number; sum: number } {
    return { count: this.count, sum: this.sum };
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${formatNumber(b)}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${formatNumber(this.sum)}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  private add<M extends Metric>(m: M): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(m.name)) throw new LakehouseError('INVALID_ARGUMENT', `"${m.name}" is not a valid Prometheus metric name.`);
    if (this.metrics.has(m.name)) throw new LakehouseError('ALREADY_EXISTS', `Metric ${m.name} is already registered.`);
    this.metrics.set(m.name, m);
    return m;
  }

  counter(name: string, help: string): Counter { return this.add(new Counter(name, help)); }
  gauge(name: string, help: string): Gauge { return this.add(new Gauge(name, help)); }
  histogram(name: string, help: string, buckets: number[] = DEFAULT_SECONDS_BUCKETS): Histogram { return this.add(new Histogram(name, help, buckets)); }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join('\n') + '\n';
  }
}

export const DEFAULT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The ingest metrics. consumed / written / dead_lettered / duplicates count records whose positions
 * are committed, so at every scrape consumed = written + dead_lettered + duplicates.
 */
export interface IngestMetrics {
  registry: MetricsRegistry;
  consumed: Counter;
  written: Counter;
  /** Labelled by `reason`. */
  deadLettered: Counter;
  duplicates: Counter;
  commits: Counter;
  bufferedBytes: Gauge;
  bufferedRows: Gauge;
  flushSeconds: Histogram;
  commitSeconds: Histogram;
  freshnessSeconds: Gauge;
  /** Labelled by `topic` and `partition`; set by the source (high watermark - position). */
  lag: Gauge;
  paused: Gauge;
}

export function createIngestMetrics(registry: MetricsRegistry = new MetricsRegistry()): IngestMetrics {
  return {
    registry,
    consumed: registry.counter('lakehouse_ingest_consumed_total', 'Records read from the source and covered by a committed snapshot'),
    written: registry.counter('lakehouse_ingest_written_total', 'Rows written to the table in committed snapshots'),
    deadLettered: registry.counter('lakehouse_ingest_dead_lettered_total', 'Invalid records sent to the dead-letter sink, by reason'),
    duplicates: registry.counter('lakehouse_ingest_duplicates_total', 'Records dropped because their event_id was already in the same flush'),
    commits: registry.counter('lakehouse_ingest_commits_total', 'Iceberg snapshots committed by ingest'),
    bufferedBytes: registry.gauge('lakehouse_ingest_buffered_bytes', 'Bytes held in memory: the buffer plus the flush in progress'),
    bufferedRows: registry.gauge('lakehouse_ingest_buffered_rows', 'Rows in the buffer, not yet flushed'),
    flushSeconds: registry.histogram('lakehouse_ingest_flush_seconds', 'Whole flush: dead letters, Parquet files, Iceberg commit, source commit'),
    commitSeconds: registry.histogram('lakehouse_ingest_commit_seconds', 'Iceberg commit of one flush'),
    freshnessSeconds: registry.gauge('lakehouse_ingest_freshness_seconds', 'Now minus the event time of the oldest event not yet committed (0 when none)'),
    lag: registry.gauge('lakehouse_ingest_lag', 'Records in the source after the consumer position, per partition'),
    paused: registry.gauge('lakehouse_ingest_paused', '1 while the source is paused because the memory budget is exceeded'),
  };
}

export interface MetricsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `registry.render()` on GET /metrics; port 0 picks a free port. */
export function startMetricsServer(registry: MetricsRegistry, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(registry.render());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not found: metrics are at /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new LakehouseError('INVALID_CONFIG', `Cannot serve metrics on ${host}:${port} (${errorMessage(e)}); choose another --metrics-port.`, { cause: e })));
    server.listen(port, host, () => {
      const actual = (server.address() as AddressInfo).port;
      resolve({
        port: actual,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/metrics`,
        close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections?.(); }),
      });
    });
  });
}
