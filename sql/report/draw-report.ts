/**
 * The browser half of the campaign_metrics report: draws three SVG charts from the model embedded in the
 * page. Node never calls {@link drawReport}; sql/campaign-metrics-report.ts embeds its source text in the
 * HTML (see sql/report/page-script.ts), so the function must be self-contained: everything it uses is
 * declared inside it or passed in, and this module has no runtime imports or module-level values for it
 * to reach (only type imports, which compile away). tests/unit/campaign-metrics-report-script.test.ts
 * runs the embedded text in an empty scope to prove it.
 *
 * Every data string reaches the page through textContent or setAttribute, never as markup.
 *
 * The DOM is typed by the small structural subset below instead of TypeScript's DOM lib: a
 * `/// <reference lib="dom" />` here would add the DOM globals to the whole program, Node code included
 * (lib references are not scoped to the file that makes them). The real `document` satisfies these
 * interfaces; the headless Chromium test draws with it.
 */
import type { CtrPoint, MetricsReportModel, ReportElementIds } from './report-data.ts';

/**
 * The members of a DOM Element that the charts use, with the DOM's names and signatures. `N` is the
 * page's own node type (Element in a browser): appendChild takes only nodes of the same document.
 */
export interface ChartNode<N> {
  setAttribute(name: string, value: string): void;
  appendChild(node: N): unknown;
  textContent: string | null;
}

/** The members of the DOM Document that {@link drawReport} uses; the browser's `document` is one. */
export interface ReportDocument<N extends ChartNode<N>> {
  createElementNS(namespace: string, qualifiedName: string): N;
  /** The chart hosts and the error box are HTML elements, hence `hidden`. */
  getElementById(id: string): (N & { hidden: boolean }) | null;
  body: { dataset: Record<string, string | undefined> };
}

/**
 * Draws the CTR trend, revenue and funnel charts into their hosts. Each <svg> gets `data-chart` and
 * `data-marks` (marks drawn); `body[data-charts-drawn]` becomes the number of charts drawn, or `error`
 * with the message in the error box. Self-contained: see the module comment.
 */
export function drawReport<N extends ChartNode<N>>(doc: ReportDocument<N>, ids: ReportElementIds): void {
  type Attrs = Record<string, string | number>;
  type PageElement = N & { hidden: boolean };
  type FunnelMetric = 'impressions' | 'clicks' | 'conversions';

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  const METRIC_COLORS: Record<FunnelMetric | 'revenue', string> = { impressions: '#4e79a7', clicks: '#f28e2b', conversions: '#e15759', revenue: '#59a14f' };
  const W = 960;
  const LABEL_CHARS = 22;
  const countFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  const moneyFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function el(name: string, attrs: Attrs, parent?: N): N {
    const node = doc.createElementNS(SVG_NS, name);
    for (const k in attrs) node.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(node);
    return node;
  }
  function label(parent: N, x: number, y: number, str: string, attrs: Attrs = {}): N {
    const t = el('text', { ...attrs, x, y }, parent);
    t.textContent = str;
    return t;
  }
  function tip(node: N, str: string): void {
    el('title', {}, node).textContent = str;
  }
  function short(id: string): string {
    return id.length > LABEL_CHARS ? id.slice(0, LABEL_CHARS - 1) + '\u2026' : id;
  }
  function pct(v: number | null): string {
    return v === null ? 'n/a' : v.toFixed(2) + ' %';
  }
  function utc(ms: number): string {
    return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }

  /** Round axis steps (1, 2 or 5 times a power of ten) and the axis maximum they reach. */
  function niceTicks(max: number, count: number): { max: number; ticks: number[] } {
    if (!(max > 0)) max = 1;
    const raw = max / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const n = raw / mag;
    const step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
    const top = Math.ceil(max / step - 1e-9) * step;
    const ticks: number[] = [];
    for (let i = 0; i * step <= top + step / 2; i++) ticks.push(Number((i * step).toPrecision(12)));
    return { max: top, ticks };
  }

  const TIME_STEPS = [60e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, 604800e3, 2592000e3];
  /** The smallest step in TIME_STEPS that gives at most `count` ticks between lo and hi (epoch ms). */
  function timeTicks(lo: number, hi: number, count: number): { step: number; ticks: number[] } {
    let step = TIME_STEPS[TIME_STEPS.length - 1]!;
    for (const s of TIME_STEPS) {
      if ((hi - lo) / s <= count) {
        step = s;
        break;
      }
    }
    const ticks: number[] = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
    return { step, ticks };
  }

  function newChart(host: PageElement, kind: string, height: number, description: string): N {
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + height, width: '100%', role: 'img', 'aria-label': description, 'data-chart': kind, 'data-marks': 0, class: 'chart' });
    host.appendChild(svg);
    return svg;
  }
  function noData(svg: N, x: number, y: number, message: string): void {
    label(svg, x, y, message, { class: 'nodata', 'text-anchor': 'middle' });
  }

  function drawCtrTrend(host: PageElement, m: MetricsReportModel): void {
    const series = m.ctrTrend;
    const legendRows = Math.max(series.length, 1);
    const top = 24, bottom = 64, left = 64, right = 220;
    const height = Math.max(380, top + 22 * legendRows + bottom);
    const svg = newChart(host, 'ctr-trend', height, 'CTR per window, top campaigns by impressions');
    const pw = W - left - right, ph = height - top - bottom;
    let marks = 0;
    let maxCtr = 0;
    for (const s of series) for (const p of s.points) if (p.ctr !== null && p.ctr > maxCtr) maxCtr = p.ctr;
    const yScale = niceTicks(maxCtr, 5);
    const y = (v: number) => top + ph - (v / yScale.max) * ph;
    const T = m.trend.starts;
    let lo = T.length ? T[0]! : 0;
    let hi = T.length ? T[T.length - 1]! : 1;
    if (hi === lo) {
      const pad = m.trend.bucketMs || m.windowMs || 60e3;
      lo -= pad;
      hi += pad;
    }
    const x = (t: number) => left + ((t - lo) / (hi - lo)) * pw;

    const grid = el('g', { class: 'grid' }, svg);
    for (const v of yScale.ticks) {
      el('line', { x1: left, x2: left + pw, y1: y(v), y2: y(v) }, grid);
      label(grid, left - 8, y(v) + 4, v + ' %', { 'text-anchor': 'end', class: 'tick' });
    }
    const axis = el('g', { class: 'axis' }, svg);
    el('line', { x1: left, x2: left + pw, y1: top + ph, y2: top + ph }, axis);
    el('line', { x1: left, x2: left, y1: top, y2: top + ph }, axis);
    if (T.length) {
      const tt = timeTicks(lo, hi, 8);
      let prevDay = '';
      for (const t of tt.ticks) {
        const iso = new Date(t).toISOString(), day = iso.slice(0, 10);
        el('line', { x1: x(t), x2: x(t), y1: top + ph, y2: top + ph + 5 }, axis);
        label(axis, x(t), top + ph + 18, tt.step >= 86400e3 ? day : iso.slice(11, 16), { 'text-anchor': 'middle', class: 'tick' });
        if (tt.step < 86400e3 && day !== prevDay) label(axis, x(t), top + ph + 32, day, { 'text-anchor': 'middle', class: 'tick day' });
        prevDay = day;
      }
    }
    label(svg, left + pw / 2, height - 10, m.trend.bucketMs ? 'Bucket start (UTC)' : 'Window start (UTC)', { 'text-anchor': 'middle', class: 'axis-label' });
    label(svg, 16, top + ph / 2, 'CTR (%)', { 'text-anchor': 'middle', class: 'axis-label', transform: 'rotate(-90 16 ' + (top + ph / 2) + ')' });

    // Past this many points per line, smaller circles keep the line readable.
    const dense = T.length > 120;
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length]!;
      const g = el('g', { class: 'series' }, svg);
      // A point without a CTR, or a missing window, breaks the line: the next point starts a new move.
      let d = '';
      let prev: CtrPoint | null = null;
      for (const p of s.points) {
        if (p.ctr === null) {
          prev = null;
          continue;
        }
        const px = x(T[p.w]!).toFixed(1), py = y(p.ctr).toFixed(1);
        d += (prev !== null && prev.w === p.w - 1 ? ' L' : ' M') + px + ' ' + py;
        prev = p;
      }
      if (d) el('path', { d: d.trim(), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round' }, g);
      for (const p of s.points) {
        if (p.ctr === null) continue;
        const c = el('circle', { cx: x(T[p.w]!).toFixed(1), cy: y(p.ctr).toFixed(1), r: dense ? 1.8 : 3.2, fill: p.complete ? color : '#fff', stroke: color, 'stroke-width': 1.5, class: 'mark' }, g);
        tip(c, s.campaign + '\n' + utc(T[p.w]!) + '\nCTR ' + pct(p.ctr) + ' (' + countFmt.format(p.clicks) + ' clicks / ' + countFmt.format(p.impressions) + ' impressions)' + (p.complete ? '' : '\nwindow still open'));
        marks++;
      }
      const ly = top + 6 + i * 22, lx = left + pw + 24;
      const item = el('g', { class: 'legend-item' }, svg);
      el('line', { x1: lx, x2: lx + 18, y1: ly, y2: ly, stroke: color, 'stroke-width': 3 }, item);
      label(item, lx + 26, ly + 4, short(s.campaign), { class: 'legend' });
      tip(item, s.campaign);
    });
    if (!series.length) noData(svg, left + pw / 2, top + ph / 2, 'No data');
    else if (!marks) noData(svg, left + pw / 2, top + ph / 2, 'No window had impressions');
    svg.setAttribute('data-marks', String(marks));
  }

  function drawRevenue(host: PageElement, m: MetricsReportModel): void {
    const rows = m.revenue;
    const top = 12, bottom = 56, left = 190, right = 110, rowH = 28;
    const height = top + Math.max(rows.length, 2) * rowH + bottom;
    const svg = newChart(host, 'revenue', height, 'Revenue by campaign, top campaigns by revenue');
    const pw = W - left - right, ph = height - top - bottom;
    const max = rows.length ? rows[0]!.revenue : 0;
    const xs = niceTicks(max, 6);
    const x = (v: number) => left + (v / xs.max) * pw;
    const grid = el('g', { class: 'grid' }, svg);
    for (const v of xs.ticks) {
      el('line', { x1: x(v), x2: x(v), y1: top, y2: top + ph }, grid);
      label(grid, x(v), top + ph + 18, compactFmt.format(v), { 'text-anchor': 'middle', class: 'tick' });
    }
    label(svg, left + pw / 2, height - 10, 'Revenue (sum over all windows)', { 'text-anchor': 'middle', class: 'axis-label' });
    const total = m.totals.revenue;
    let marks = 0;
    rows.forEach((r, i) => {
      const cy = top + i * rowH;
      const name = label(svg, left - 10, cy + rowH / 2 + 4, short(r.campaign), { 'text-anchor': 'end', class: 'category' });
      tip(name, r.campaign);
      const bar = el('rect', { x: left, y: cy + 4, width: Math.max(1, x(r.revenue) - left).toFixed(1), height: rowH - 8, fill: METRIC_COLORS.revenue, class: 'mark' }, svg);
      tip(bar, r.campaign + '\nrevenue ' + moneyFmt.format(r.revenue) + (total > 0 ? ' (' + ((100 * r.revenue) / total).toFixed(1) + ' % of all revenue)' : ''));
      label(svg, x(r.revenue) + 6, cy + rowH / 2 + 4, moneyFmt.format(r.revenue), { class: 'value' });
      marks++;
    });
    el('line', { x1: left, x2: left, y1: top, y2: top + ph, class: 'axis-line' }, svg);
    if (!rows.length) noData(svg, left + pw / 2, top + ph / 2, 'No revenue');
    svg.setAttribute('data-marks', String(marks));
  }

  function drawFunnel(host: PageElement, m: MetricsReportModel): void {
    const rows = m.topByImpressions;
    const metrics: FunnelMetric[] = ['impressions', 'clicks', 'conversions'];
    const top = 40, bottom = 40, left = 190, gap = 28, rowH = 26, valueRoom = 56;
    const height = top + Math.max(rows.length, 2) * rowH + bottom;
    const svg = newChart(host, 'funnel', height, 'Impressions, clicks and conversions by campaign, top campaigns by impressions');
    const panelW = (W - left - 12 - gap * (metrics.length - 1)) / metrics.length;
    const ph = height - top - bottom;
    let marks = 0;
    rows.forEach((r, i) => {
      const name = label(svg, left - 10, top + i * rowH + rowH / 2 + 4, short(r.campaign), { 'text-anchor': 'end', class: 'category' });
      tip(name, r.campaign);
    });
    metrics.forEach((metric, k) => {
      const x0 = left + k * (panelW + gap), barMax = panelW - valueRoom;
      const color = METRIC_COLORS[metric];
      let max = 0;
      for (const r of rows) if (r[metric] > max) max = r[metric];
      const xs = niceTicks(max, 4);
      const head = el('g', { class: 'legend-item' }, svg);
      el('rect', { x: x0, y: 10, width: 12, height: 12, fill: color }, head);
      label(head, x0 + 18, 20, metric.charAt(0).toUpperCase() + metric.slice(1), { class: 'legend' });
      const grid = el('g', { class: 'grid' }, svg);
      for (const v of xs.ticks) {
        const gx = x0 + (v / xs.max) * barMax;
        el('line', { x1: gx, x2: gx, y1: top - 4, y2: top + ph }, grid);
        label(grid, gx, top + ph + 16, compactFmt.format(v), { 'text-anchor': 'middle', class: 'tick' });
      }
      el('line', { x1: x0, x2: x0, y1: top - 4, y2: top + ph, class: 'axis-line' }, svg);
      rows.forEach((r, i) => {
        const v = r[metric], cy = top + i * rowH;
        const w = (v / xs.max) * barMax;
        if (v > 0) {
          const bar = el('rect', { x: x0, y: cy + 4, width: Math.max(1, w).toFixed(1), height: rowH - 8, fill: color, class: 'mark' }, svg);
          const extra = metric === 'clicks' ? ' (CTR ' + pct(r.ctrPercent) + ')' : metric === 'conversions' ? ' (CVR ' + pct(r.cvrPercent) + ')' : '';
          tip(bar, r.campaign + '\n' + countFmt.format(v) + ' ' + metric + extra);
          marks++;
        }
        label(svg, x0 + Math.max(w, 0) + 5, cy + rowH / 2 + 4, compactFmt.format(v), { class: 'value' });
      });
    });
    label(svg, left + (W - left) / 2, height - 6, 'Count over all windows (each panel has its own scale)', { 'text-anchor': 'middle', class: 'axis-label' });
    if (!rows.length) noData(svg, left + (W - left) / 2, top + ph / 2, 'No data');
    svg.setAttribute('data-marks', String(marks));
  }

  function byId(id: string): PageElement {
    const found = doc.getElementById(id);
    if (!found) throw new Error('the page has no element #' + id);
    return found;
  }

  let drawn = 0;
  try {
    const model = JSON.parse(byId(ids.data).textContent ?? '') as MetricsReportModel;
    drawCtrTrend(byId(ids.ctrTrend), model);
    drawn++;
    drawRevenue(byId(ids.revenue), model);
    drawn++;
    drawFunnel(byId(ids.funnel), model);
    drawn++;
    doc.body.dataset.chartsDrawn = String(drawn);
  } catch (e) {
    const box = doc.getElementById(ids.error);
    if (box) {
      box.textContent = 'The charts could not be drawn (' + drawn + ' of 3 drawn): ' + (e instanceof Error && e.stack ? e.stack : String(e));
      box.hidden = false;
    }
    doc.body.dataset.chartsDrawn = 'error';
  }
}
