// A node:test reporter that ends the run with one line: "N passed, M failed, K skipped" (skipped
// and todo tests are neither passed nor failed, and a run that skips is said to). With
// BREAKFIX_TEST_COUNTS set (scripts/test.ts, which runs several batches), it appends the counts
// to that file as a JSON line instead, and the script prints one line for all batches.
import { appendFileSync } from 'node:fs';

export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    // Count leaf tests only: a suite's own pass/fail event carries `details.type === 'suite'`.
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.details?.type === 'suite') continue;
    if (event.type === 'test:pass' && (event.data.skip || event.data.todo)) skipped += 1;
    else if (event.type === 'test:pass') passed += 1;
    if (event.type === 'test:fail') failed += 1;
  }
  const countsFile = process.env.BREAKFIX_TEST_COUNTS;
  if (countsFile) appendFileSync(countsFile, `${JSON.stringify({ passed, failed, skipped })}\n`);
  else yield `${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
