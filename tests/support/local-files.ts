import { readdirSync, utimesSync } from 'node:fs';
import path from 'node:path';

/** Every file under a directory, as sorted absolute paths: what the disk holds, read without our FileIO. */
export function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
}

/** Sets the modification time of files back by `ms`, as if they had been written that long ago. */
export function age(files: string[], ms: number): void {
  const when = new Date(Date.now() - ms);
  for (const f of files) utimesSync(f, when, when);
}
