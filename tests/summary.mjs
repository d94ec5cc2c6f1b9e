// Prints the one line CI reads: "N passed, N failed". A test file that fails to load counts as one
// failure, so an import error can never pass as "0 failed".
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
try {
  const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = r.numFailedTests ?? 0;
  for (const f of r.testResults ?? []) {
    if (f.status === 'failed' && (f.assertionResults ?? []).every((a) => a.status !== 'failed')) failed++;
  }
} catch {
  failed = Math.max(failed, 1);
}
console.log(`${passed} passed, ${failed} failed`);
