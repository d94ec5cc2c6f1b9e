import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSource } from '../../pipeline/file-source.ts';
import type { SourceRecord } from '../../pipeline/source.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-file-source-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const text = (r: SourceRecord) => Buffer.from(r.value!).toString('utf8');

async function drain(src: FileSource, max = 3): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for (let i = 0; i < 10_000 && !src.ended(); i++) out.push(...await src.poll(max, 0));
  return out;
}

describe('FileSource', () => {
  it('gives every line, an empty one too, with its 0-based line number as offset, across chunk boundaries', async () => {
    const file = path.join(dir, 'e.ndjson');
    // Line 2 is empty (a record the decoder dead-letters); line 3 ends in CRLF; the last line has no newline.
    writeFileSync(file, '{"a":1}\n{"a":22}\n\n{"a":333}\r\n{"a":4444}');
    const src = new FileSource({ location: file, chunkBytes: 5 });
    await src.start(new Map());
    const got = await drain(src);
    expect(got.map((r) => [r.offset, text(r)])).toEqual([[0n, '{"a":1}'], [1n, '{"a":22}'], [2n, ''], [3n, '{"a":333}'], [4n, '{"a":4444}']]);
    expect(got.every((r) => r.topic === file && r.partition === 0)).toBe(true);
    expect(src.key).toBe(`${file}:0`);
    expect(src.ended()).toBe(true);
  });

  it('a final newline ends the last line and is no record of its own; blank and whitespace lines before it are records', async () => {
    const file = path.join(dir, 'blank.ndjson');
    writeFileSync(file, '{"a":1}\n\n \t\n\r\n{"a":5}\n');
    const src = new FileSource({ location: file, chunkBytes: 3 });
    await src.start(new Map());
    expect((await drain(src)).map((r) => [r.offset, text(r)])).toEqual([[0n, '{"a":1}'], [1n, ''], [2n, ' \t'], [3n, ''], [4n, '{"a":5}']]);

    // Without the final newline, whitespace after the last one is a line.
    writeFileSync(file, '{"a":1}\n  ');
    const tail = new FileSource({ location: file });
    await tail.start(new Map());
    expect((await drain(tail)).map((r) => [r.offset, text(r)])).toEqual([[0n, '{"a":1}'], [1n, '  ']]);
  });

  it('resumes at the recorded position: lines before it are not given again', async () => {
    const file = path.join(dir, 'e.ndjson');
    writeFileSync(file, ['a', 'b', 'c', 'd', 'e'].map((s) => JSON.stringify({ s })).join('\n') + '\n');
    const src = new FileSource({ location: file, chunkBytes: 4 });
    await src.start(new Map([[`${file}:0`, 3n]]));
    expect((await drain(src)).map((r) => [r.offset, text(r)])).toEqual([[3n, '{"s":"d"}'], [4n, '{"s":"e"}']]);

    const past = new FileSource({ location: file });
    await past.start(new Map([[`${file}:0`, 5n]]));
    expect(await drain(past)).toEqual([]);
    expect(past.ended()).toBe(true);
  });

  it('reads a file:// URI, and lines appended after start before the end is reached', async () => {
    const file = path.join(dir, 'grow.ndjson');
    writeFileSync(file, '{"n":0}\n');
    const src = new FileSource({ location: pathToFileURL(file).href });
    await src.start(new Map());
    appendFileSync(file, '{"n":1}\n');
    expect((await drain(src, 100)).map(text)).toEqual(['{"n":0}', '{"n":1}']);
  });

  it('passes an over-long line on cut, marked with its original length, and keeps counting lines', async () => {
    const file = path.join(dir, 'long.ndjson');
    writeFileSync(file, `{"x":"${'y'.repeat(100)}"}\n{"ok":true}\n`);
    const src = new FileSource({ location: file, chunkBytes: 16, maxLineBytes: 20 });
    await src.start(new Map());
    const [long, ok] = await drain(src);
    expect(long!.value!.length).toBe(21);
    expect(long!.headers).toEqual({ 'lakehouse-truncated-from': '108' });
    expect([ok!.offset, text(ok!)]).toEqual([1n, '{"ok":true}']);
  });

  it('gives nothing while paused and continues where it was after resume', async () => {
    const file = path.join(dir, 'p.ndjson');
    writeFileSync(file, '1\n2\n3\n');
    const src = new FileSource({ location: file });
    await src.start(new Map());
    expect((await src.poll(1, 0)).map(text)).toEqual(['1']);
    src.pause();
    expect(await src.poll(10, 0)).toEqual([]);
    expect(src.ended()).toBe(false);
    src.resume();
    expect((await src.poll(10, 0)).map(text)).toEqual(['2', '3']);
  });

  it('a missing file is a sentence that names it and says how to create one', async () => {
    const file = path.join(dir, 'nope.ndjson');
    const src = new FileSource({ location: file });
    await expect(src.start(new Map())).rejects.toThrow(new RegExp(`Source file ${file} does not exist; create it \\(e\\.g\\. lakehouse produce`));
  });

  it('reads a gzip file by its magic bytes, whatever its name: the same lines and line numbers as the plain text, concatenated members as one text', async () => {
    const file = path.join(dir, 'history.ndjson'); // no .gz on purpose
    const plain = '{"a":1}\n\n{"a":3}\r\n';
    writeFileSync(file, Buffer.concat([gzipSync(plain), gzipSync('{"a":4}\n{"a":5}')]));
    const src = new FileSource({ location: file, chunkBytes: 7 });
    await src.start(new Map());
    expect(src.compressed).toBe(true);
    expect((await drain(src)).map((r) => [r.offset, text(r)])).toEqual([[0n, '{"a":1}'], [1n, ''], [2n, '{"a":3}'], [3n, '{"a":4}'], [4n, '{"a":5}']]);
    expect(src.bytesRead).toBe(src.bytes);
  });

  it('resumes a gzip file at the recorded line', async () => {
    const file = path.join(dir, 'resume.ndjson.gz');
    writeFileSync(file, gzipSync(['0', '1', '2', '3'].join('\n') + '\n'));
    const src = new FileSource({ location: file });
    await src.start(new Map([[`${file}:0`, 2n]]));
    expect((await drain(src)).map((r) => [r.offset, text(r)])).toEqual([[2n, '2'], [3n, '3']]);
  });

  it('a damaged gzip file is a sentence naming the file, not a stack trace', async () => {
    const file = path.join(dir, 'cut.ndjson.gz');
    const whole = gzipSync('{"a":1}\n'.repeat(1000));
    writeFileSync(file, whole.subarray(0, whole.length - 20));
    const src = new FileSource({ location: file });
    await src.start(new Map());
    await expect(drain(src, 100_000)).rejects.toThrow(new RegExp(`Source file ${file} starts like a gzip file but cannot be decompressed`));
  });
});
