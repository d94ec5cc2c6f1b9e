import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../interop/readers.ts';

const run = promisify(execFile);

/**
 * The compiled package (dist/) current with the sources: tests of what users run (the library through
 * `exports`, the compiled modules under plain Node) must not test a stale build. `make test` builds
 * first; a developer's `npx vitest` after an edit rebuilds here.
 */
export async function ensureBuilt(): Promise<void> {
  const stamp = path.join(REPO_ROOT, 'dist', '.built');
  if (existsSync(stamp)) {
    const { stdout } = await run('find', ['core', 'domain', 'iceberg', 'catalog', 'pipeline', 'sql', 'maintenance', 'dashboard', 'cli', '-newer', stamp, '(', '-name', '*.ts', '-o', '-name', '*.sql', ')', '-print', '-quit'], { cwd: REPO_ROOT });
    if (stdout.trim() === '') return;
  }
  await run('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT });
}
