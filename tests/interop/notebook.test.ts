import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { REPO_ROOT, VENV_PYTHON, VENV_TIMEOUT_MS, ensureVenv } from './readers.ts';
import { ensureBuilt } from '../support/ensure-built.ts';

/**
 * notebooks/campaign-analysis.ipynb runs headless (nbclient, the .venv kernel) in the folder of a demo
 * warehouse, where it finds the catalog exactly as the CLI does (no config file: ./warehouse/catalog.db),
 * and renders to HTML. Its closing summary is checked against what the CLI and the snapshots say.
 */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let dir: string;

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: dir, maxBuffer: 1 << 26, env: { ...process.env, LAKEHOUSE_CONFIG: '', LAKEHOUSE_CACHE: path.join(dir, 'cache'), ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-notebook-'));
  await ensureBuilt();
  const [demo] = await Promise.all([run(BIN, ['demo', '-n', '3000', '--batch-size', '1000']), ensureVenv()]);
  expect(demo.code, demo.stderr).toBe(0);
}, VENV_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('notebooks/campaign-analysis.ipynb', () => {
  it('executes end to end on the demo warehouse, renders to HTML with its charts, and its figures match the CLI and the snapshots', async () => {
    const html = path.join(dir, 'campaign-analysis.html');
    const executed = path.join(dir, 'executed.ipynb');
    const r = await run(VENV_PYTHON, [path.join(REPO_ROOT, 'notebooks', 'render.py'), '--html', html, '--executed', executed]);
    expect(r.code, r.stderr).toBe(0);

    const page = readFileSync(html, 'utf8');
    for (const heading of ['Click-through rate over time', 'The effect of late events', 'Dead letters: what was rejected, and why', 'Time travel: the tables as they were']) {
      expect(page).toContain(heading);
    }
    // CTR trend, lateness histogram, dead letters by reason: three charts inlined, no file beside the page.
    expect(page.match(/<img [^>]*src="data:image\/png;base64,/g)?.length).toBe(3);

    const cells = (JSON.parse(readFileSync(executed, 'utf8')) as { cells: { outputs?: { output_type: string; text?: string | string[] }[] }[] }).cells;
    const text = (o: { text?: string | string[] }) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '');
    expect(cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'error')).toEqual([]);
    const last = cells.at(-1)!.outputs!.filter((o) => o.output_type === 'stream').map(text).join('');
    const summary = JSON.parse(last) as Record<string, string | number | null>;

    const catalog = await loadCatalog({ cwd: dir, env: {} });
    const snapshots = await (async () => {
      try {
        const t = await catalog.loadTable({ namespace: ['lakehouse'], name: 'campaign_events' });
        return [...t.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber).map((s) => ({ id: String(s.snapshotId), summary: s.summary }));
      } finally {
        await catalog.close();
      }
    })();
    const cli = await run(BIN, ['sql', '--format', 'csv', 'SELECT (SELECT count(*) FROM campaign_events), (SELECT count(*) FROM campaign_metrics)']);
    const [eventRows, metricRows] = cli.stdout.trim().split('\n')[1]!.split(',').map(Number);
    const deadLetterLines = readFileSync(path.join(dir, 'warehouse', 'demo', 'dead-letters.ndjson'), 'utf8').trim().split('\n').length;

    expect(summary).toEqual({
      events_snapshot_id: snapshots.at(-1)!.id,
      events_rows: eventRows,
      metrics_rows: metricRows,
      first_snapshot_id: snapshots[0]!.id,
      first_snapshot_rows: Number(snapshots[0]!.summary['total-records']),
      late_events: expect.any(Number),
      commits: snapshots.length,
      dead_letters_in_summaries: snapshots.reduce((n, s) => n + Number(s.summary['lakehouse.ingest.dead-lettered'] ?? 0), 0),
      dead_letters_in_file: deadLetterLines,
      hourly_ctr_points: expect.any(Number),
    });
    expect(snapshots.length).toBe(3);
    expect(summary.dead_letters_in_file).toBeGreaterThan(0);
  }, 300_000);
});
