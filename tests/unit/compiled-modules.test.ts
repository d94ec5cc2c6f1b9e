import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../interop/readers.ts';
import { ensureBuilt } from '../support/ensure-built.ts';

const run = promisify(execFile);

/**
 * Every compiled module loads under plain Node, as the CLI and library users load it. vitest and tsx
 * transform imports, so a named import that Node's ESM loader cannot find in a CommonJS package (kafkajs
 * enums, for one) passes every other test and breaks the installed command.
 */
function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return modules(p);
    return name.endsWith('.js') ? [p] : [];
  });
}

beforeAll(ensureBuilt, 300_000);

describe('the compiled package', () => {
  it('loads every module of dist/ with plain Node (no loader, no transform)', async () => {
    // cli/main.js and stack/supervisor-main.js are entry scripts: importing one runs it. The CLI's commands
    // are imported directly; the supervisor's entry is started as its own process below.
    const entries = [path.join('cli', 'main.js'), path.join('stack', 'supervisor-main.js')].map((e) => `${path.sep}${e}`);
    const files = modules(path.join(REPO_ROOT, 'dist')).filter((f) => !entries.some((e) => f.endsWith(e)));
    expect(files.length).toBeGreaterThan(100);
    const script = `for (const f of ${JSON.stringify(files)}) await import(f);`;
    const { stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
    expect(stderr).toBe('');
  }, 120_000);

  it('starts the stack supervisor\'s entry with plain Node: without a spec file it says how to call it and exits 2', async () => {
    const entry = path.join(REPO_ROOT, 'dist', 'stack', 'supervisor-main.js');
    const failure = await run(process.execPath, [entry], { cwd: REPO_ROOT }).then(() => null, (e: { code?: number; stderr?: string }) => e);
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('usage: supervisor-main <spec.json>');
  }, 120_000);
});
