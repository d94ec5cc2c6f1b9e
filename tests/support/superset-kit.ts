import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from '../interop/readers.ts';

/**
 * What the Superset tests share: running the real CLI (`bin/lakehouse`), a free loopback port, and a
 * small client of Superset's REST API logged in as a real user (bearer token from /api/v1/security/login).
 */

export const LAKEHOUSE = path.join(REPO_ROOT, 'bin', 'lakehouse');
/** Superset's first install (~1 GB from PyPI) plus its first start on two busy cores. */
export const SUPERSET_START_TIMEOUT_MS = 25 * 60_000;

export interface CliResult { code: number; stdout: string; stderr: string }

export function lakehouse(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(LAKEHOUSE, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? SUPERSET_START_TIMEOUT_MS },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** Runs the CLI and fails with its stderr unless it exits 0. */
export async function lakehouseOk(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string> {
  const r = await lakehouse(args, opts);
  if (r.code !== 0) throw new Error(`lakehouse ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface UpInfo {
  url: string;
  user: string;
  password_file: string;
  viewer_user: string;
  state_dir: string;
  pid: number;
  dashboards: { id: number; title: string; slug: string; url: string }[];
}

export function passwords(info: UpInfo): { admin: string; viewer: string } {
  const s = JSON.parse(readFileSync(info.password_file, 'utf8')) as { admin_password: string; viewer_password: string };
  return { admin: s.admin_password, viewer: s.viewer_password };
}

export interface ChartResult {
  rowcount: number;
  data: Record<string, unknown>[];
  error?: string | null;
  /** Served from Superset's result cache (keyed by the tables' snapshots). */
  is_cached?: boolean | null;
}

export class SupersetClient {
  private token = '';
  constructor(readonly url: string) {}

  async login(username: string, password: string): Promise<Response> {
    const res = await fetch(`${this.url}/api/v1/security/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password, provider: 'db', refresh: true }),
    });
    if (res.ok) this.token = ((await res.clone().json()) as { access_token: string }).access_token;
    return res;
  }

  private csrf: { token: string; cookie: string } | null = null;

  /**
   * A request as the logged-in user. Changes (anything but GET) carry a CSRF token and its session
   * cookie, as Superset's own frontend sends them: CSRF protection applies to token-authenticated
   * calls too, and a test of a permission must not be answered by the CSRF check instead.
   */
  async request(pathname: string, init: RequestInit = {}): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, ...(init.headers as Record<string, string> ?? {}) };
    if ((init.method ?? 'GET') !== 'GET') {
      if (!this.csrf) {
        const res = await fetch(`${this.url}/api/v1/security/csrf_token/`, { headers: { Authorization: `Bearer ${this.token}` } });
        const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('session=')) ?? '';
        this.csrf = { token: ((await res.json()) as { result: string }).result, cookie };
      }
      Object.assign(headers, { 'X-CSRFToken': this.csrf.token, Cookie: this.csrf.cookie, Referer: `${this.url}/` });
    }
    return fetch(`${this.url}${pathname}`, { ...init, headers });
  }

  async json<T>(pathname: string, init: RequestInit = {}): Promise<T> {
    const res = await this.request(pathname, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${pathname} answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }

  /** Chart id by name, for the charts of one dashboard. */
  async charts(dashboardId: number): Promise<Map<string, number>> {
    const body = await this.json<{ result: { id: number; slice_name: string }[] }>(`/api/v1/dashboard/${dashboardId}/charts`);
    return new Map(body.result.map((c) => [c.slice_name, c.id]));
  }

  /** The chart's rows through its saved query as the dashboard asks (through the result cache), at the current snapshot. */
  async chartData(id: number): Promise<ChartResult> {
    const body = await this.json<{ result: ChartResult[] }>(`/api/v1/chart/${id}/data/`);
    return body.result[0]!;
  }
}

/** A CLI config file in `dir` for the REST catalog at `uri` (table files on S3 with `properties`), and the flags that pick it. */
export async function restCatalogFlags(dir: string, uri: string, properties: Record<string, string>): Promise<string[]> {
  const config = path.join(dir, 'rest.config.json');
  await writeFile(config, JSON.stringify({ catalogs: { rest: { type: 'rest', uri, ...properties } } }));
  return ['--config', config, '--catalog', 'rest'];
}

/** Drops a test namespace's campaign_events and campaign_metrics (with their files) and the namespace. */
export async function dropDashboardNamespace(rest: string[], ns: string, cwd: string): Promise<void> {
  for (const t of ['campaign_metrics', 'campaign_events']) await lakehouse([...rest, 'tables', 'drop', `${ns}.${t}`, '--purge'], { cwd });
  await lakehouse([...rest, 'namespaces', 'drop', ns], { cwd });
}
