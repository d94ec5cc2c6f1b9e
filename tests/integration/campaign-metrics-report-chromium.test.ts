/**
 * The metrics report draws its charts in a real browser (a static check cannot see a chart that
 * failed to draw). Chromium loads the file from disk with no server, runs the
 * report's own script, and --dump-dom gives back the DOM after load: the test reads the attributes the
 * script sets (body data-charts-drawn, each <svg>'s data-chart / data-marks) and counts the drawn marks.
 *
 * Chromium comes from infra/setup-chromium.sh (Debian's chromium package; `make install` runs it). A
 * missing browser fails the test with the fix in the message: a skipped browser test proves nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignMetricsRow } from '../../domain/campaign-metrics-table.ts';
import { renderMetricsReport } from '../../sql/campaign-metrics-report.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SETUP_SCRIPT = path.join(ROOT, 'infra', 'setup-chromium.sh');
/** First install through apt takes a minute or two; a found browser answers in milliseconds. */
const SETUP_TIMEOUT_MS = 10 * 60_000;
const CHROMIUM_TIMEOUT_MS = 60_000;

const HOSTILE_ID = `<script>document.body.dataset.pwned='script'</script>"'&<img src=x onerror="document.body.dataset.pwned='img'">`;

const MIN_5 = 300_000_000n; // microseconds
const micros = (iso: string) => BigInt(Date.parse(iso)) * 1000n;

/** Windows W0..W5, 5 minutes each, from 23:45 to 00:15 UTC across the night of 9 to 10 March 2024. */
const W = [0, 1, 2, 3, 4, 5].map((i) => micros('2024-03-09T23:45:00Z') + BigInt(i) * MIN_5);

function row(w: number, campaign: string, impressions: number, clicks: number, conversions: number, revenue: number, extra: Partial<CampaignMetricsRow> = {}): CampaignMetricsRow {
  const spend = clicks * 0.4;
  return {
    window_start: W[w]!, window_end: W[w]! + MIN_5, campaign_id: campaign,
    impressions: BigInt(impressions), clicks: BigInt(clicks), conversions: BigInt(conversions), revenue, spend,
    ctr_percent: impressions ? (100 * clicks) / impressions : null,
    cvr_percent: clicks ? (100 * conversions) / clicks : null,
    cpc: clicks ? spend / clicks : null,
    cpa: conversions ? spend / conversions : null,
    roas: spend ? revenue / spend : null,
    complete: w < 5, processed_at: W[5]! + 60_000_000n,
    ...extra,
  };
}

/**
 * Eight campaigns over six windows; the report shows the top 5. By impressions: brand-awareness 9000,
 * spring-sale 6000, retargeting 1600, the hostile id 900, newsletter 400 (summer-preview 150, loyalty 100
 * and tiny-test 5 are left out). By revenue (> 0): spring-sale, retargeting, hostile, newsletter, loyalty,
 * summer-preview: six, capped at five bars.
 */
const ROWS: CampaignMetricsRow[] = [
  // spring-sale: split by platform in every window (two rows per window, one point each after aggregation).
  ...[0, 1, 2, 3, 4, 5].flatMap((w) => [
    row(w, 'spring-sale', 600, 18, 2, 60, { platform: 'ios' }),
    row(w, 'spring-sale', 400, 8, 1, 40, { platform: 'android' }),
  ]),
  // brand-awareness: impressions only, zero clicks (CTR 0 %, CVR NULL).
  ...[0, 1, 2, 3, 4, 5].map((w) => row(w, 'brand-awareness', 1500, 0, 0, 0)),
  // retargeting: W3 has clicks but no impressions (CTR NULL: a gap in its line).
  row(0, 'retargeting', 400, 12, 1, 50), row(1, 'retargeting', 400, 10, 1, 50), row(2, 'retargeting', 400, 9, 1, 50),
  row(3, 'retargeting', 0, 2, 1, 50), row(4, 'retargeting', 400, 11, 1, 50),
  row(1, HOSTILE_ID, 300, 6, 1, 30), row(2, HOSTILE_ID, 300, 6, 1, 30), row(3, HOSTILE_ID, 300, 6, 1, 30),
  row(4, 'newsletter', 200, 5, 1, 20), row(5, 'newsletter', 200, 5, 1, 20),
  row(2, 'summer-preview', 150, 3, 1, 12.5),
  row(5, 'loyalty', 100, 4, 1, 30),
  row(3, 'tiny-test', 5, 0, 0, 0),
];

let workDir = '';
let chromium = '';

/** Runs a command, resolving with its outputs whatever the exit code. */
function run(file: string, args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

interface Rendered {
  /** The DOM after load, serialized. */
  dom: string;
  /** What the page wrote to the console (script errors, CSP violations): Chromium logs them as INFO:CONSOLE. */
  console: string[];
}

/** Loads the report from a file:// URL in headless Chromium and returns the DOM once its script ran. */
async function renderInChromium(html: string, name: string): Promise<Rendered> {
  const file = path.join(workDir, `${name}.html`);
  await writeFile(file, html);
  const profile = await mkdtemp(path.join(workDir, `profile-${name}-`));
  const result = await run(chromium, [
    '--headless',
    // Root cannot use Chromium's sandbox; the page is our own file and makes no requests (its CSP forbids them).
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--disable-extensions',
    '--disable-background-networking',
    '--enable-logging=stderr',
    '--log-level=0',
    `--user-data-dir=${profile}`,
    '--dump-dom',
    pathToFileURL(file).href,
  ], CHROMIUM_TIMEOUT_MS);
  if (result.code !== 0 || !result.stdout.includes('</html>')) {
    throw new Error(`${chromium} --headless --dump-dom ${file} failed (exit ${result.code}, signal ${result.signal}); stderr:\n${result.stderr.slice(-3000)}`);
  }
  return { dom: result.stdout, console: result.stderr.split('\n').filter((line) => line.includes(':CONSOLE')) };
}

/** The page says it drew three charts; otherwise the failure shows why (its #report-error, its console). */
function expectChartsDrawn({ dom, console }: Rendered): void {
  const error = /<div id="report-error"[^>]*>([\s\S]*?)<\/div>/.exec(dom)?.[1] ?? '';
  const body = /<body[^>]*>/.exec(dom)?.[0] ?? '(no <body>)';
  const why = `${body}\n#report-error: ${error || '(empty)'}\nconsole:\n${console.join('\n') || '(nothing)'}`;
  expect(error, why).toBe('');
  expect(body, why).toMatch(/data-charts-drawn="3"/);
}

/** The opening tag of the <svg data-chart="kind"> and the markup up to its </svg>. */
function chart(dom: string, kind: string): { tag: string; body: string; marks: number } {
  const start = dom.search(new RegExp(`<svg[^>]*data-chart="${kind}"`));
  expect(start, `no <svg data-chart="${kind}"> in the DOM`).toBeGreaterThanOrEqual(0);
  const end = dom.indexOf('</svg>', start);
  const tag = dom.slice(start, dom.indexOf('>', start) + 1);
  const marks = /data-marks="(\d+)"/.exec(tag);
  expect(marks, `<svg data-chart="${kind}"> has no numeric data-marks: ${tag}`).not.toBeNull();
  return { tag, body: dom.slice(start, end), marks: Number(marks![1]) };
}

const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

beforeAll(async () => {
  const setup = await run('bash', [SETUP_SCRIPT], SETUP_TIMEOUT_MS);
  chromium = setup.stdout.trim().split('\n').pop() ?? '';
  if (setup.code !== 0 || !chromium) {
    throw new Error(`This test needs headless Chromium and ${SETUP_SCRIPT} could not provide it (exit ${setup.code}):\n${setup.stderr.trim()}\n`
      + 'Install it with `make install` (as root) or `apt-get install --no-install-recommends chromium`, or set CHROMIUM=/path/to/chrome.');
  }
  workDir = await mkdtemp(path.join(os.tmpdir(), 'metrics-report-'));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('metrics report in headless Chromium', () => {
  it('draws all three charts with one mark per data point, bar and non-zero count', async () => {
    const html = renderMetricsReport(ROWS, {
      window: '5m', topCampaigns: 5, title: 'Demo campaigns', source: 'lakehouse.campaign_metrics @ snapshot 42',
      generatedAt: new Date('2024-03-10T00:20:00Z'),
    });
    const page = await renderInChromium(html, 'report');
    const { dom } = page;

    expectChartsDrawn(page);
    // No script error and no CSP violation (the policy admits only the report's own script).
    expect(page.console).toEqual([]);

    // CTR points: brand-awareness 6 (0 %), spring-sale 6, retargeting 4 (W3 has no impressions),
    // hostile 3, newsletter 2.
    const ctr = chart(dom, 'ctr-trend');
    expect(ctr.marks).toBe(21);
    expect(occurrences(ctr.body, '<circle')).toBe(21);
    // Retargeting's gap splits its line in two: one path with two moves.
    const retargeting = /<g class="series"><path d="([^"]+)"[^>]*stroke="#e15759"/.exec(ctr.body);
    expect(retargeting?.[1].match(/M/g)?.length).toBe(2);
    // The axis crosses midnight: both dates label it.
    expect(ctr.body).toContain('>2024-03-09<');
    expect(ctr.body).toContain('>2024-03-10<');

    // Six campaigns have revenue, capped at the top 5: summer-preview (12.5, the smallest) is left out.
    const revenue = chart(dom, 'revenue');
    expect(revenue.marks).toBe(5);
    expect(occurrences(revenue.body, '<rect')).toBe(5);
    expect(revenue.body).toContain('<title>spring-sale\nrevenue 600.00');
    expect(revenue.body).not.toContain('summer-preview');

    // Top 5 by impressions, three panels: 5 impression bars, 4 click and 4 conversion bars
    // (brand-awareness has none of either).
    const funnel = chart(dom, 'funnel');
    expect(funnel.marks).toBe(13);
    expect(occurrences(funnel.body, 'class="mark"')).toBe(13);
  });

  it('shows the hostile campaign id as text and injects no element', async () => {
    const html = renderMetricsReport(ROWS, { window: '5m', topCampaigns: 5 });
    const page = await renderInChromium(html, 'hostile');
    const { dom } = page;

    expectChartsDrawn(page);
    expect(dom).not.toContain('data-pwned');
    expect(dom).not.toMatch(/<img/i);
    // The report's own two scripts, nothing more.
    expect(occurrences(dom, '<script')).toBe(2);
    // Escaped in the summary table (server-side) and in the SVG titles (textContent in the page).
    const escapedText = '&lt;script&gt;document.body.dataset.pwned=\'script\'&lt;/script&gt;"\'&amp;&lt;img src=x onerror="document.body.dataset.pwned=\'img\'"&gt;';
    expect(dom).toContain(`<td class="id">${escapedText}</td>`);
    expect(chart(dom, 'revenue').body).toContain(`<title>${escapedText}\nrevenue 90.00`);
  });

  it('draws three empty charts and explains why when there are no rows', async () => {
    const page = await renderInChromium(renderMetricsReport([], { window: '5m', source: 'lakehouse.campaign_metrics' }), 'empty');
    const { dom } = page;

    expectChartsDrawn(page);
    for (const kind of ['ctr-trend', 'revenue', 'funnel']) expect(chart(dom, kind).marks, kind).toBe(0);
    expect(dom).toContain('There are no metrics rows to report in lakehouse.campaign_metrics');
  });
});
