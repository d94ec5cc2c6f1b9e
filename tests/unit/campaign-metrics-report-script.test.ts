/**
 * The report's drawing script is the source text of sql/report/draw-report.ts's drawReport as loaded,
 * and each way of loading TypeScript compiles it differently: vitest (these tests), tsx (the CLI in
 * development, whose esbuild adds `__name(...)` calls with keepNames) and tsc (dist/). Each test runs the
 * script one of them yields in an empty node:vm context with a minimal stand-in for the DOM: a reference
 * to anything outside the function (an import, a module-level value, a compiler helper) fails there.
 * That the charts look right is proven in headless Chromium by
 * tests/integration/campaign-metrics-report-chromium.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { CampaignMetricsRow } from '../../domain/campaign-metrics-table.ts';
import { renderMetricsReport } from '../../sql/campaign-metrics-report.ts';
import { drawReport } from '../../sql/report/draw-report.ts';
import { pageScript } from '../../sql/report/page-script.ts';
import { REPORT_ELEMENT_IDS } from '../../sql/report/report-data.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIN_5 = 300_000_000n; // microseconds
const T0 = BigInt(Date.parse('2024-03-10T00:00:00Z')) * 1000n;

function row(w: number, campaign: string, impressions: number, clicks: number, conversions: number, revenue: number): CampaignMetricsRow {
  return {
    window_start: T0 + BigInt(w) * MIN_5, window_end: T0 + BigInt(w + 1) * MIN_5, campaign_id: campaign,
    impressions: BigInt(impressions), clicks: BigInt(clicks), conversions: BigInt(conversions), revenue, spend: 1,
    ctr_percent: null, cvr_percent: null, cpc: null, cpa: null, roas: null, complete: true, processed_at: T0,
  };
}

/**
 * CTR points: a in W0 and W2 (W1 has no impressions), b in W0 (0 %): 3. Revenue bars: a only: 1.
 * Funnel bars: impressions a and b, clicks a, conversions a: 4.
 */
const ROWS = [row(0, 'a', 100, 5, 1, 10), row(1, 'a', 0, 2, 0, 0), row(2, 'a', 100, 10, 2, 5), row(0, 'b', 50, 0, 0, 0)];
const EXPECTED_MARKS = { ctrTrend: '3', revenue: '1', funnel: '4' };

/** Just enough of a DOM element for drawReport: attributes, children, text. */
class FakeElement {
  readonly attributes = new Map<string, string>();
  readonly children: FakeElement[] = [];
  textContent: string | null = null;
  hidden = true;
  constructor(readonly name: string) {}
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, value);
  }
  appendChild(node: FakeElement): FakeElement {
    this.children.push(node);
    return node;
  }
}

/** The <script> text and the embedded model JSON of a rendered report, as the page holds them. */
function scriptAndData(html: string): { script: string; data: string } {
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1];
  const data = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
  expect(script).toBeDefined();
  expect(data).toBeDefined();
  return { script: script!, data: data! };
}

/** Runs `script` where `document` is the only global besides the language's own, and reports what it drew. */
function runInEmptyScope(script: string, data: string): { chartsDrawn: string | undefined; error: string | null; marks: Record<string, string | undefined> } {
  const byId = new Map(Object.values(REPORT_ELEMENT_IDS).map((id) => [id, new FakeElement('div')]));
  byId.get(REPORT_ELEMENT_IDS.data)!.textContent = data;
  const body = { dataset: {} as Record<string, string | undefined> };
  const document = { body, createElementNS: (_ns: string, name: string) => new FakeElement(name), getElementById: (id: string) => byId.get(id) ?? null };
  vm.runInContext(script, vm.createContext({ document }));
  const marks = (id: string) => byId.get(id)!.children[0]?.attributes.get('data-marks');
  const errorBox = byId.get(REPORT_ELEMENT_IDS.error)!;
  return {
    chartsDrawn: body.dataset.chartsDrawn,
    error: errorBox.hidden ? null : errorBox.textContent,
    marks: { ctrTrend: marks(REPORT_ELEMENT_IDS.ctrTrend), revenue: marks(REPORT_ELEMENT_IDS.revenue), funnel: marks(REPORT_ELEMENT_IDS.funnel) },
  };
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

describe('the report drawing script', () => {
  const { data } = scriptAndData(renderMetricsReport(ROWS, { window: '5m' }));

  it('runs on its own as the report embeds it under vitest', () => {
    const { script } = scriptAndData(renderMetricsReport(ROWS, { window: '5m' }));

    expect(runInEmptyScope(script, data)).toEqual({ chartsDrawn: '3', error: null, marks: EXPECTED_MARKS });
  });

  it('runs on its own as tsx builds it, with the __name calls esbuild adds for keepNames', async () => {
    const printScript = [
      `const { pageScript } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'sql/report/page-script.ts')).href)});`,
      `const { drawReport } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'sql/report/draw-report.ts')).href)});`,
      `const { REPORT_ELEMENT_IDS } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'sql/report/report-data.ts')).href)});`,
      'process.stdout.write(pageScript(drawReport, REPORT_ELEMENT_IDS));',
    ].join('\n');
    const script = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', printScript]);

    expect(script).toContain('function drawReport(');
    expect(runInEmptyScope(script, data)).toEqual({ chartsDrawn: '3', error: null, marks: EXPECTED_MARKS });
  });

  it('runs on its own as tsc compiles it for dist/', async () => {
    const source = await readFile(path.join(ROOT, 'sql/report/draw-report.ts'), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'draw-report-'));
    try {
      const file = path.join(dir, 'draw-report.mjs');
      await writeFile(file, outputText);
      const compiled = (await import(pathToFileURL(file).href)) as { drawReport: typeof drawReport };
      const script = pageScript(compiled.drawReport, REPORT_ELEMENT_IDS);

      expect(runInEmptyScope(script, data)).toEqual({ chartsDrawn: '3', error: null, marks: EXPECTED_MARKS });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('shows the error and draws nothing when the embedded data is not JSON', () => {
    const { script } = scriptAndData(renderMetricsReport(ROWS, { window: '5m' }));

    const drawn = runInEmptyScope(script, '{not json');
    expect(drawn.chartsDrawn).toBe('error');
    expect(drawn.error).toMatch(/^The charts could not be drawn \(0 of 3 drawn\): SyntaxError/);
  });
});

describe('pageScript', () => {
  it('refuses a function whose source would end its inline <script> early', () => {
    const leaky = function leaky(doc: { body: { textContent: string } }): void {
      doc.body.textContent = '</script><script>alert(1)';
    };

    expect(() => pageScript(leaky, null)).toThrow(/<\/script/);
  });

  it('refuses an arrow function or method, whose source is not a callable expression on its own', () => {
    expect(() => pageScript((_doc: unknown, _arg: null) => {}, null)).toThrow(/function declaration or expression/);
  });
});
