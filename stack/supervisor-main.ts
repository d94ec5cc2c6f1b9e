import { readFileSync } from 'node:fs';
import { createLogger } from '../core/log.ts';
import { Supervisor, type SupervisorSpec } from './supervisor.ts';

/**
 * Entry point of the detached supervisor process (`lakehouse stack up` starts it with its spec file):
 * runs until SIGTERM or SIGINT, then stops every part and exits 0. Its own log is its stderr, which
 * `stack up` points at <logs>/supervisor.log.
 */
const specFile = process.argv[2];
if (!specFile) {
  process.stderr.write('usage: supervisor-main <spec.json>\n');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specFile, 'utf8')) as SupervisorSpec;
const log = createLogger({ level: 'info' }).child({ component: 'supervisor' });
const supervisor = new Supervisor(spec, log);
let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { signal });
  supervisor.stop().then(() => process.exit(0), (e: unknown) => { log.error('stop failed', { error: String(e) }); process.exit(1); });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// Its parent (stack up) exits right after starting it; a closed terminal must not stop the stack.
process.on('SIGHUP', () => {});
log.info('supervisor started', { pid: process.pid, parts: spec.parts.map((p) => p.name) });
supervisor.start();
