/**
 * The Dockerfiles docker-compose.yml builds (no Docker engine here to build them): each parses into known
 * instructions, pins its base image to a release, copies files that exist, and runs commands that exist
 * (npm scripts in package.json, the CLI in bin/, the Superset entrypoint), on the runtimes the project
 * declares (Node from package.json's engines, the Python the Superset pins were resolved on).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, VENV_TIMEOUT_MS } from '../interop/readers.ts';
import { COMPOSE_FILE, type ComposeDocument, validateCompose } from '../support/compose-file.ts';

interface Instruction { keyword: string; args: string; line: number }

const KEYWORDS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

/** Instructions with continuation lines joined and comments dropped, as the Dockerfile reference defines them. */
function parseDockerfile(file: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && !pending)) return;
    const text: string = pending ? `${pending.text} ${line}` : line;
    const start: number = pending ? pending.line : i + 1;
    if (text.endsWith('\\')) { pending = { text: text.slice(0, -1).trimEnd(), line: start }; return; }
    pending = null;
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(text);
    if (!m || !KEYWORDS.has(m[1]!.toUpperCase())) throw new Error(`${path.relative(REPO_ROOT, file)}:${start}: not a Dockerfile instruction: ${text}`);
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  });
  if (pending) throw new Error(`${path.relative(REPO_ROOT, file)}: ends inside a continued line`);
  return out;
}

/** The images FROM names (not earlier stages), each "name:tag". */
function baseImages(instructions: Instruction[]): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const i of instructions.filter((x) => x.keyword === 'FROM')) {
    const [image, as, stage] = i.args.replace(/--platform=\S+\s+/, '').split(/\s+/);
    if (!stages.has(image!)) images.push(image!);
    if (as?.toUpperCase() === 'AS' && stage) stages.add(stage);
  }
  return images;
}

/** Source paths of COPY/ADD without --from, relative to the build context. */
function copiedSources(instructions: Instruction[]): string[] {
  return instructions.filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
}

function execForm(i: Instruction): string[] {
  return JSON.parse(i.args) as string[];
}

let compose: ComposeDocument;
beforeAll(async () => {
  ({ document: compose } = await validateCompose(COMPOSE_FILE));
}, VENV_TIMEOUT_MS);

/** Every Dockerfile docker-compose.yml builds, with its build context. */
function builds(): { service: string; context: string; dockerfile: string }[] {
  return Object.entries(compose.services).filter(([, s]) => s.build)
    .map(([service, s]) => ({ service, context: path.join(REPO_ROOT, s.build!.context), dockerfile: path.join(REPO_ROOT, s.build!.context, s.build!.dockerfile ?? 'Dockerfile') }));
}

describe('the Dockerfiles docker-compose.yml builds', () => {
  it('exist: the lakehouse image (producer, ingest, metrics) and the Superset image', () => {
    const files = [...new Set(builds().map((b) => path.relative(REPO_ROOT, b.dockerfile)))].sort();
    expect(files).toEqual(['Dockerfile', 'infra/superset/Dockerfile']);
  });

  it('parse into Dockerfile instructions, pin every base image to a release, and copy only files that exist', () => {
    for (const b of builds()) {
      const instructions = parseDockerfile(b.dockerfile);
      expect(instructions[0]?.keyword, b.dockerfile).toBe('FROM');
      for (const image of baseImages(instructions)) {
        // name:1.2.3[-variant] or name@sha256:...; never a moving tag (latest, a bare major, none).
        expect(image, `${b.dockerfile}: ${image}`).toMatch(/(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$/);
      }
      for (const source of copiedSources(instructions)) {
        expect(existsSync(path.join(b.context, source)), `${b.dockerfile} copies ${source}`).toBe(true);
      }
    }
  });

  it('the lakehouse image: Node 20 as package.json requires, npm ci on the lock file, the build script, and bin/lakehouse as entrypoint', () => {
    const instructions = parseDockerfile(path.join(REPO_ROOT, 'Dockerfile'));
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };
    for (const image of baseImages(instructions)) {
      const major = Number(/^node:(\d+)\./.exec(image)?.[1]);
      expect(major, image).toBe(20);
      expect(major).toBeGreaterThanOrEqual(Number(/(\d+)/.exec(pkg.engines.node)![1]));
    }
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
    expect(runs).toMatch(/\bnpm ci\b/);
    expect(existsSync(path.join(REPO_ROOT, 'package-lock.json'))).toBe(true);
    const scripts = [...runs.matchAll(/\bnpm run ([\w:-]+)/g)].map((m) => m[1]!);
    expect(scripts).toContain('build');
    for (const s of scripts) expect(Object.keys(pkg.scripts), `npm run ${s}`).toContain(s);
    const entry = execForm(instructions.find((i) => i.keyword === 'ENTRYPOINT')!);
    expect(entry).toEqual(['bin/lakehouse']);
    accessSync(path.join(REPO_ROOT, 'bin', 'lakehouse'), constants.X_OK);
    // The compiled CLI bin/lakehouse runs is what the build script writes.
    expect(readFileSync(path.join(REPO_ROOT, 'bin', 'lakehouse'), 'utf8')).toContain('dist/cli/main.js');
    expect(pkg.scripts.build).toMatch(/infra\/build\/build\.sh/);
  });

  it('the Superset image: the Python the pins were resolved on, the pinned requirements, and the container entrypoint', () => {
    const file = path.join(REPO_ROOT, 'infra', 'superset', 'Dockerfile');
    const instructions = parseDockerfile(file);
    const requirements = readFileSync(path.join(REPO_ROOT, 'infra', 'superset', 'requirements.txt'), 'utf8');
    const resolvedOn = /resolved on Python (\d+\.\d+)/.exec(requirements)![1]!;
    for (const image of baseImages(instructions)) expect(image, image).toMatch(new RegExp(`^python:${resolvedOn.replace('.', '\\.')}\\.\\d+`));
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
    expect(runs).toMatch(/pip install .*--no-deps -r \/app\/superset\/requirements\.txt/);
    expect(requirements).toMatch(/^apache_superset==6\.1\.0$/m);
    expect(requirements).toMatch(/^trino==/m);
    const entry = execForm(instructions.find((i) => i.keyword === 'ENTRYPOINT')!);
    expect(entry).toEqual(['python', '/app/superset/container.py']);
    expect(existsSync(path.join(REPO_ROOT, 'infra', 'superset', 'container.py'))).toBe(true);
  });
});
