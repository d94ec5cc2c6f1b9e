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
    // cli/main.js is the entry script: importing it runs the CLI. Its commands are imported directly.
    const files = modules(path.join(REPO_ROOT, 'dist')).filter((f) => !f.endsWith(`${path.sep}cli${path.sep}main.js`));
    expect(files.length).toBeGreaterThan(100);
    const script = `for (const f of ${JSON.stringify(files)}) await import(f);`;
    const { stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
    expect(stderr).toBe('');
  }, 120_000);
});
