import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The floor plan, checked over the real import graph (static, dynamic and type-only imports, read with
 * TypeScript's own pre-processor): dependencies point one way, cli -> maintenance -> pipeline | sql ->
 * domain -> catalog -> iceberg -> core; code outside iceberg/ enters it only through its two front doors; pipeline/
 * and sql/ never import each other; SDKs are imported only by the adapter that owns them; no cycles.
 * Tests are outside the plan: they may open any room to test it.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FOLDERS = ['core', 'domain', 'iceberg', 'catalog', 'pipeline', 'sql', 'maintenance', 'dashboard', 'stack', 'cli', 'bench', 'examples'];

/** What each top-level folder may import from the project (itself included). */
const ALLOWED: Record<string, string[]> = {
  core: ['core'],
  iceberg: ['core', 'iceberg'],
  catalog: ['core', 'iceberg', 'catalog'],
  domain: ['core', 'iceberg', 'catalog', 'domain'],
  pipeline: ['core', 'iceberg', 'catalog', 'domain', 'pipeline'],
  sql: ['core', 'iceberg', 'catalog', 'domain', 'sql'],
  // Table maintenance (compaction, expiry, ... on a schedule) keeps what both writers need and reuses
  // pipeline's Prometheus registry, so it sits above pipeline/ and sql/; neither of them imports it.
  maintenance: ['core', 'iceberg', 'catalog', 'domain', 'pipeline', 'maintenance'],
  // Runs Superset (a Python server) over the tables; it is handed the catalog's settings as data.
  dashboard: ['core', 'dashboard'],
  // The live stack: starts the servers and the supervised lakehouse processes (as `bin/lakehouse` commands,
  // not imports) and reads the pipeline's vital signs from the table and Kafka; only cli/ imports it.
  stack: ['core', 'iceberg', 'catalog', 'domain', 'pipeline', 'stack'],
  cli: ['core', 'iceberg', 'catalog', 'domain', 'pipeline', 'sql', 'maintenance', 'dashboard', 'stack', 'cli'],
  bench: ['core', 'iceberg', 'catalog', 'domain', 'pipeline', 'sql', 'maintenance', 'dashboard', 'stack', 'cli', 'bench'],
  examples: ['core', 'iceberg', 'catalog', 'domain', 'examples'],
};

const FRONT_DOORS = new Set(['iceberg/index.ts', 'iceberg/io/index.ts']);

/** Packages that only their adapter may import (a prefix matches scoped families such as @aws-sdk/). */
const SDK_OWNERS: [string, string[]][] = [
  ['kafkajs', ['pipeline/kafka-client.ts', 'pipeline/kafka-source.ts', 'pipeline/kafka-dead-letters.ts', 'pipeline/kafka-producer.ts']],
  ['@aws-sdk/client-s3', ['iceberg/io/s3-file-io.ts']],
  ['@aws-sdk/client-glue', ['catalog/glue-catalog.ts', 'catalog/glue-columns.ts']],
  ['@duckdb/', ['sql/duckdb.ts']],
  ['better-sqlite3', ['catalog/sqlite-driver.ts']],
  ['pg', ['catalog/postgres-driver.ts']],
];

function sourceFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

interface Edge {
  from: string;
  to: string;
}

function graph(): { files: string[]; edges: Edge[]; packages: Edge[] } {
  const files = FOLDERS.flatMap(sourceFiles);
  const edges: Edge[] = [];
  const packages: Edge[] = [];
  for (const from of files) {
    const info = ts.preProcessFile(readFileSync(path.join(ROOT, from), 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      const spec = ref.fileName;
      if (spec.startsWith('.')) edges.push({ from, to: path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)) });
      else if (!spec.startsWith('node:')) packages.push({ from, to: spec });
    }
  }
  return { files, edges, packages };
}

const top = (file: string) => file.split('/')[0]!;

describe('the floor plan', () => {
  const { files, edges, packages } = graph();

  it('reads a graph of the whole tree (guards the check itself against an empty walk)', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(300);
  });

  it('code outside iceberg/ imports the table format only through iceberg/index.ts and iceberg/io/index.ts', () => {
    const past = edges.filter((e) => top(e.from) !== 'iceberg' && top(e.to) === 'iceberg' && !FRONT_DOORS.has(e.to));
    expect(past.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('dependencies point one way: cli -> pipeline | sql -> domain -> catalog -> iceberg -> core', () => {
    const wrong = edges.filter((e) => !(ALLOWED[top(e.from)] ?? []).includes(top(e.to)));
    expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('pipeline/ and sql/ do not import each other', () => {
    const between = edges.filter((e) => (top(e.from) === 'pipeline' && top(e.to) === 'sql') || (top(e.from) === 'sql' && top(e.to) === 'pipeline'));
    expect(between.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('only the adapter that owns an SDK imports it', () => {
    const wrong = packages.filter((e) => SDK_OWNERS.some(([pkg, owners]) => (e.to === pkg || e.to.startsWith(pkg.endsWith('/') ? pkg : `${pkg}/`)) && !owners.includes(e.from)));
    expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('has no import cycle', () => {
    const out = new Map<string, string[]>();
    for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const next of out.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
