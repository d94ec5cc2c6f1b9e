import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { LocalFileIO, isLocalLocation, toFileUri, toLocalPath } from '../../iceberg/io/index.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof LakehouseError ? e.code : `non-lakehouse: ${String(e)}`;
  }
  return 'resolved';
}

describe('LocalFileIO', () => {
  let dir: string;
  const io = new LocalFileIO();
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lh-localio-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the same file by /abs, file:///abs and file:/abs', async () => {
    await io.write(`${dir}/a.txt`, bytes('one'));
    expect(text(await io.read(`file://${dir}/a.txt`))).toBe('one');
    expect(text(await io.read(`file:${dir}/a.txt`))).toBe('one');
    expect(text(await io.read(`file://localhost${dir}/a.txt`))).toBe('one');
  });

  it('creates missing parent directories on write', async () => {
    await io.write(`file://${dir}/x/y/z/data.bin`, bytes('deep'));
    expect(text(await io.read(`${dir}/x/y/z/data.bin`))).toBe('deep');
  });

  it('replaces an existing file when ifNotExists is not set', async () => {
    await io.write(`${dir}/f`, bytes('old'));
    await io.write(`${dir}/f`, bytes('new'));
    expect(text(await io.read(`${dir}/f`))).toBe('new');
  });

  it('refuses to replace with ifNotExists and keeps the first content', async () => {
    await io.write(`${dir}/m.json`, bytes('first'), { ifNotExists: true });
    expect(await codeOf(io.write(`${dir}/m.json`, bytes('second'), { ifNotExists: true }))).toBe('ALREADY_EXISTS');
    expect(text(await io.read(`${dir}/m.json`))).toBe('first');
  });

  it('lets exactly one of many racing exclusive writers win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => io.write(`${dir}/race.json`, bytes(`writer-${i}`), { ifNotExists: true })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    expect(text(await io.read(`${dir}/race.json`))).toBe(`writer-${winner}`);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as LakehouseError).code).toBe('ALREADY_EXISTS');
  });

  it('leaves no temporary files behind after writes and failed exclusive writes', async () => {
    await io.write(`${dir}/a`, bytes('1'));
    await io.write(`${dir}/a`, bytes('2'));
    await codeOf(io.write(`${dir}/a`, bytes('3'), { ifNotExists: true }));
    expect(readdirSync(dir)).toEqual(['a']);
  });

  it('reads an exact byte range', async () => {
    await io.write(`${dir}/r`, bytes('0123456789'));
    expect(text(await io.readRange(`${dir}/r`, 3, 4))).toBe('3456');
    expect(text(await io.readRange(`${dir}/r`, 10, 0))).toBe('');
  });

  it('fails a range read past the end of the file with IO_ERROR', async () => {
    await io.write(`${dir}/r`, bytes('0123'));
    expect(await codeOf(io.readRange(`${dir}/r`, 2, 10))).toBe('IO_ERROR');
  });

  it('reports size and existence, and NOT_FOUND for a missing file', async () => {
    await io.write(`${dir}/s`, bytes('12345'));
    expect(await io.size(`file://${dir}/s`)).toBe(5);
    expect(await io.exists(`${dir}/s`)).toBe(true);
    expect(await io.exists(`${dir}/missing`)).toBe(false);
    expect(await codeOf(io.read(`${dir}/missing`))).toBe('NOT_FOUND');
    expect(await codeOf(io.size(`${dir}/missing`))).toBe('NOT_FOUND');
  });

  it('treats deleting a missing file as success', async () => {
    await expect(io.delete(`${dir}/never-there`)).resolves.toBeUndefined();
  });

  it('deletes many files, missing ones included', async () => {
    const locs = Array.from({ length: 40 }, (_, i) => `${dir}/d/${i}.bin`);
    for (const l of locs) await io.write(l, bytes('x'));
    await io.deleteMany([...locs, `${dir}/d/absent`]);
    expect(readdirSync(join(dir, 'd'))).toEqual([]);
  });

  it('lists files recursively in the form of the prefix, with sizes', async () => {
    await io.write(`${dir}/t/metadata/v1.json`, bytes('abc'));
    await io.write(`${dir}/t/data/p=1/f.parquet`, bytes('12345'));
    const listed = [];
    for await (const f of io.list(`file://${dir}/t/`)) listed.push(f);
    expect(listed.map((f) => f.location).sort()).toEqual([
      `file://${dir}/t/data/p=1/f.parquet`,
      `file://${dir}/t/metadata/v1.json`,
    ]);
    expect(listed.find((f) => f.location.endsWith('f.parquet'))!.size).toBe(5);
  });

  it('lists a missing directory as empty', async () => {
    const listed = [];
    for await (const f of io.list(`${dir}/nothing-here`)) listed.push(f);
    expect(listed).toEqual([]);
  });

  it('does not list the temporary file of a write in progress', async () => {
    writeFileSync(join(dir, '.m.json.0b6c2f7e-0000-4000-8000-000000000000.lakehouse-tmp'), 'partial');
    await io.write(`${dir}/m.json`, bytes('done'));
    const listed = [];
    for await (const f of io.list(dir)) listed.push(f.location);
    expect(listed).toEqual([`${dir}/m.json`]);
  });

  it('creates directories with ensureDirectory', async () => {
    await io.ensureDirectory(`${dir}/a/b/c`);
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['c']);
  });
});

describe('local location parsing', () => {
  it('turns file URIs into paths', () => {
    expect(toLocalPath('file:///tmp/w/t')).toBe('/tmp/w/t');
    expect(toLocalPath('file:/tmp/w/t')).toBe('/tmp/w/t');
    expect(toLocalPath('/tmp/w/t')).toBe('/tmp/w/t');
  });

  it('keeps percent escapes verbatim, as PyIceberg does', () => {
    expect(toLocalPath('file:///tmp/a%20b')).toBe('/tmp/a%20b');
  });

  it('rejects a file URI that names another host', () => {
    expect(() => toLocalPath('file://server/share/x')).toThrow(/three slashes/);
  });

  it('rejects non-local schemes with a pointer to the S3 FileIO', () => {
    expect(() => toLocalPath('s3://bucket/key')).toThrow(/S3 FileIO/);
    expect(isLocalLocation('s3a://b/k')).toBe(false);
    expect(isLocalLocation('/abs')).toBe(true);
  });

  it('writes paths as file:/// URIs', () => {
    expect(toFileUri('/tmp/wh')).toBe('file:///tmp/wh');
    expect(toFileUri('file:/tmp/wh')).toBe('file:///tmp/wh');
  });
});
