import { readFileSync, readdirSync } from 'node:fs';

/**
 * CPU seconds of other processes, from /proc (Linux): what the benches report for the children and servers
 * they measure. Fields 14 and 15 of proc_pid_stat(5) (utime, stime) are 11 and 12 after the command name, in
 * clock ticks: USER_HZ, which Linux fixes at 100 for user space on every common architecture.
 */
const TICKS = 100;

function statCpu(stat: string): { ppid: number; seconds: number } {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
}

/** CPU seconds (user + system) of one process, or null where /proc cannot say (no pid, exited, not Linux). */
export function processCpuSeconds(pid: number | null | undefined): number | null {
  if (!pid) return null;
  try {
    return statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8')).seconds;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) of a process and all its descendants (e.g. gunicorn and its workers). */
export function treeCpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const { ppid, seconds } = statCpu(readFileSync(`/proc/${name}/stat`, 'utf8'));
      cpu.set(Number(name), seconds);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch { /* exited meanwhile */ }
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    total += cpu.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}
