import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../catalog/catalog.ts';
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { Schema, T, Table, rowsToRecordBatch } from '../../iceberg/index.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { readWithPyIceberg, sqliteCatalogUri } from '../interop/readers.ts';
import { PausedCatalog } from '../support/paused-catalog.ts';
import { requireS3Settings } from '../support/s3-settings.ts';
import { serviceCatalogsConfig } from '../support/service-catalogs.ts';

/**
 * `lakehouse tables remove-orphans` on MinIO: object ages come from ListObjectsV2's LastModified, and
 * files referenced as `s3a://` (as Hadoop writers name them) are the same objects as the listed
 * `s3://` keys. A crashed writer's files go, a commit in flight keeps all of its files and lands
 * afterwards, and PyIceberg reads every row.
 */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'kind', T.string(), true)]);
const rows = (...ids: number[]) => ids.map((i) => ({ id: BigInt(i), kind: `k${i % 2}` }));
const suffix = randomBytes(3).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let config: string;
let catalog: Catalog;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-orphans-s3-'));
  config = path.join(dir, 'lakehouse.config.json');
  writeFileSync(config, JSON.stringify({ catalogs: serviceCatalogsConfig(`orphans-${suffix}`, path.join(dir, 'catalog.db')) }));
  catalog = await loadCatalog({ name: 'sqlite', configFile: config });
});
afterAll(async () => {
  await catalog?.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(catalogName: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(BIN, ['--config', config, '--catalog', catalogName, ...args], { cwd: dir, env: { ...process.env, LAKEHOUSE_DEBUG: '' } },
      (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
}

describe('remove-orphans on MinIO', () => {
  it('deletes a crashed writer\'s objects older than the cut-off, keeps an in-flight commit\'s and s3a:// references, and PyIceberg reads every row', async () => {
    const id = { namespace: [`orphans_${suffix}`], name: 't' };
    await catalog.createNamespace(id.namespace);
    const t = new Table(catalog, await catalog.createTable(id, { schema, partitionSpec: { specId: 0, fields: [] } }));
    await t.append([rowsToRecordBatch(schema, rows(1, 2))]);
    // A Hadoop writer's commit: the same kind of object, referenced as s3a://.
    const s3aFiles = (await t.writeDataFiles([rowsToRecordBatch(schema, rows(3))])).map((f) => ({ ...f, filePath: f.filePath.replace(/^s3:/, 's3a:') }));
    await t.newAppend().appendFiles(s3aFiles).commit();

    // A writer that died at its catalog call: data file, manifest and manifest list in the bucket.
    const dead = new PausedCatalog(catalog);
    const deadWriter = new Table(dead, await catalog.loadTable(id));
    void deadWriter.newAppend().appendFiles(await deadWriter.writeDataFiles([rowsToRecordBatch(schema, rows(66))])).commit();
    await dead.reached;
    const listed = async () => { const out: string[] = []; for await (const f of t.io.list(t.location)) out.push(f.location); return out.sort(); };
    const afterCrash = await listed();

    await sleep(1500);
    const cutoff = new Date().toISOString();
    await sleep(1500);

    // A commit in flight while remove-orphans runs: its files are newer than the cut-off.
    const paused = new PausedCatalog(catalog);
    const writer = new Table(paused, await catalog.loadTable(id));
    const landing = writer.newAppend().appendFiles(await writer.writeDataFiles([rowsToRecordBatch(schema, rows(7, 8))])).commit();
    await paused.reached;
    const inFlight = (await listed()).filter((f) => !afterCrash.includes(f));
    expect(inFlight).toHaveLength(3); // data file, manifest, manifest list

    const r = await cli('sqlite', '--json', 'tables', 'remove-orphans', `${id.namespace[0]}.t`, '--older-than', cutoff, '--allow-short-age');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { orphans: { location: string; kind: string }[]; keptTooNew: number };
    expect(out.orphans.map((o) => o.kind).sort()).toEqual(['data', 'manifest', 'manifest-list']);
    expect(out.keptTooNew).toBe(3);
    const remaining = await listed();
    expect(remaining).toEqual([...afterCrash.filter((f) => !out.orphans.some((o) => o.location === f)), ...inFlight].sort());
    for (const o of out.orphans) expect(o.location).toMatch(new RegExp(`^s3://${requireS3Settings().bucket}/orphans-${suffix}-sqlite/`));

    paused.release();
    await landing;
    const ref = { catalogUri: sqliteCatalogUri(path.join(dir, 'catalog.db')), warehouse: `s3://${requireS3Settings().bucket}/orphans-${suffix}-sqlite`, table: `${id.namespace[0]}.t`, catalogName: 'sqlite', properties: requireS3Settings().properties };
    expect(await readWithPyIceberg(ref)).toEqual(canonicalRows(schema, rows(1, 2, 3, 7, 8)));
  });

  it('finds nothing to delete in a REST-catalog table whose metadata files Apache Iceberg\'s server wrote', async () => {
    const rest = await loadCatalog({ name: 'rest', configFile: config });
    try {
      const id = { namespace: [`orphans_rest_${suffix}`], name: 't' };
      await rest.createNamespace(id.namespace);
      const t = new Table(rest, await rest.createTable(id, { schema, partitionSpec: { specId: 0, fields: [] } }));
      await t.append([rowsToRecordBatch(schema, rows(1))]);
      await t.append([rowsToRecordBatch(schema, rows(2))]);
      await sleep(1500);
      const r = await cli('rest', '--json', 'tables', 'remove-orphans', `${id.namespace[0]}.t`, '--older-than', '1s', '--allow-short-age', '--dry-run');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { orphans: unknown[]; filesListed: number; keptTooNew: number };
      // Three metadata files, two manifest lists, two manifests, two data files: every one referenced.
      expect(out.filesListed).toBe(9);
      expect(out.orphans).toEqual([]);
      expect(out.keptTooNew).toBe(0);
    } finally {
      await rest.close();
    }
  });
});
