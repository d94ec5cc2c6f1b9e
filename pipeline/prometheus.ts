import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as PromClient from 'prom-client';
import { LakehouseError, errorMessage } from '../core/errors.ts';

/**
 * Prometheus metrics on prom-client: thin wrappers that keep the calls ingest makes (`inc(by, labels)`,
 * `set(value, labels)`, `observe(value)`) over prom-client's counters, gauges and histograms, whose text
 * exposition (0.0.4) and default process metrics (CPU, memory, event-loop lag, GC) operators know.
 */
export type Labels = Record<string, string>;

let client: typeof PromClient | undefined;
/** prom-client takes ~100 ms to load: only a command that builds a registry pays it, not `lakehouse --help`. */
function promClient(): typeof PromClient {
  return (client ??= createRequire(import.meta.url)('prom-client') as typeof PromClient);
}

function sameLabels(a: Partial<Record<string, string | number>>, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => String(a[k]) === b[k]);
}

type Sample = PromClient.MetricValue<string> & { metricName?: string };

/** The value of one series in what prom-client collected; 0 for a series never touched. */
function sample(values: Sample[], labels: Labels, metricName?: string): number {
  return values.find((v) => (metricName === undefined || v.metricName === metricName) && sameLabels(v.labels, labels))?.value ?? 0;
}

export class Counter {
  constructor(readonly name: string, private readonly inner: PromClient.Counter) {}

  inc(by = 1, labels?: Labels): void {
    if (by < 0) throw new LakehouseError('INVALID_ARGUMENT', `Counter ${this.name} can only go up; got an increment of ${by}.`);
    if (labels) this.inner.inc(labels, by);
    else this.inner.inc(by);
  }

  async get(labels: Labels = {}): Promise<number> {
    return sample((await this.inner.get()).values, labels);
  }
}

export class Gauge {
  constructor(readonly name: string, private readonly inner: PromClient.Gauge) {}

  set(value: number, labels?: Labels): void {
    if (labels) this.inner.set(labels, value);
    else this.inner.set(value);
  }

  async get(labels: Labels = {}): Promise<number> {
    return sample((await this.inner.get()).values, labels);
  }

  /** Forget a labelled series (e.g. the lag of a partition this consumer no longer owns). */
  remove(labels: Labels): void {
    this.inner.remove(labels);
  }
}

/** Cumulative buckets plus sum and count, unlabelled (one series is all ingest needs per latency). */
export class Histogram {
  constructor(readonly name: string, private readonly inner: PromClient.Histogram) {}

  observe(value: number): void {
    this.inner.observe(value);
  }

  async observations(): Promise<{ count: number; sum: number }> {
    const { values } = await this.inner.get();
    return { count: sample(values, {}, `${this.name}_count`), sum: sample(values, {}, `${this.name}_sum`) };
  }
}

export class MetricsRegistry {
  private readonly inner: PromClient.Registry;

  constructor() {
    this.inner = new (promClient().Registry)();
  }

  /**
   * Adds prom-client's default process metrics (process_cpu_*, process_resident_memory_bytes,
   * nodejs_eventloop_lag_*, nodejs_gc_duration_seconds, ...). Not by default: they describe the whole
   * process and start an event-loop monitor and a GC observer that are never stopped, so only the one
   * registry a process serves should have them.
   */
  collectProcessMetrics(): void {
    promClient().collectDefaultMetrics({ register: this.inner });
  }

  /** prom-client refuses invalid names, label names and a name registered twice; say which metric. */
  private add<M>(name: string, make: (registers: PromClient.Registry[]) => M): M {
    try {
      return make([this.inner]);
    } catch (e) {
      throw new LakehouseError('INVALID_ARGUMENT', `Cannot register Prometheus metric ${name}: ${errorMessage(e)}`, { cause: e });
    }
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter(name, this.add(name, (registers) => new (promClient().Counter)({ name, help, labelNames, registers })));
  }

  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge(name, this.add(name, (registers) => new (promClient().Gauge)({ name, help, labelNames, registers })));
  }

  histogram(name: string, help: string, buckets: number[] = DEFAULT_SECONDS_BUCKETS): Histogram {
    return new Histogram(name, this.add(name, (registers) => new (promClient().Histogram)({ name, help, buckets, registers })));
  }

  /** Prometheus text exposition format 0.0.4 (async: prom-client collects the process metrics on demand). */
  render(): Promise<string> {
    return this.inner.metrics();
  }

  get contentType(): string {
    return this.inner.contentType;
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
  /** The de-duplication index: ids held, bytes of its arrays, and how far back it reaches. */
  dedupIds: Gauge;
  dedupBytes: Gauge;
  dedupHorizonSeconds: Gauge;
}

export function createIngestMetrics(registry: MetricsRegistry = new MetricsRegistry()): IngestMetrics {
  return {
    registry,
    consumed: registry.counter('lakehouse_ingest_consumed_total', 'Records read from the source and covered by a committed snapshot'),
    written: registry.counter('lakehouse_ingest_written_total', 'Rows written to the table in committed snapshots'),
    deadLettered: registry.counter('lakehouse_ingest_dead_lettered_total', 'Invalid records sent to the dead-letter sink, by reason', ['reason']),
    duplicates: registry.counter('lakehouse_ingest_duplicates_total', 'Records dropped because their event_id was already in the same flush or committed within the de-duplication horizon'),
    commits: registry.counter('lakehouse_ingest_commits_total', 'Iceberg snapshots committed by ingest'),
    bufferedBytes: registry.gauge('lakehouse_ingest_buffered_bytes', 'Bytes held in memory: the buffer plus the flush in progress'),
    bufferedRows: registry.gauge('lakehouse_ingest_buffered_rows', 'Rows in the buffer, not yet flushed'),
    flushSeconds: registry.histogram('lakehouse_ingest_flush_seconds', 'Whole flush: dead letters, Parquet files, Iceberg commit, source commit'),
    commitSeconds: registry.histogram('lakehouse_ingest_commit_seconds', 'Iceberg commit of one flush'),
    freshnessSeconds: registry.gauge('lakehouse_ingest_freshness_seconds', 'Now minus the event time of the oldest event not yet committed (0 when none)'),
    lag: registry.gauge('lakehouse_ingest_lag', 'Records in the source after the consumer position, per partition', ['topic', 'partition']),
    paused: registry.gauge('lakehouse_ingest_paused', '1 while the source is paused because the memory budget is exceeded'),
    dedupIds: registry.gauge('lakehouse_ingest_dedup_ids', 'Committed event_ids held by the de-duplication index'),
    dedupBytes: registry.gauge('lakehouse_ingest_dedup_bytes', 'Bytes of the de-duplication index'),
    dedupHorizonSeconds: registry.gauge('lakehouse_ingest_dedup_horizon_seconds', 'How far back the de-duplication index reaches: the horizon, or less when it was full (maxIds)'),
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
      registry.render().then(
        (body) => { res.writeHead(200, { 'content-type': registry.contentType }); res.end(body); },
        (e) => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end(`Collecting the metrics failed: ${errorMessage(e)}\n`); },
      );
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
