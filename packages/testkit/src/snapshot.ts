import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Compares `text` with `__snapshots__/<name>` beside the test file. A missing snapshot is written,
 * except in CI (CI=true), where it fails: snapshots are reviewed and committed, never made by CI.
 * BREAKFIX_UPDATE_SNAPSHOTS=1 rewrites them after an intended change.
 */
export function assertSnapshot(testFileUrl: string, name: string, text: string): void {
  const file = join(dirname(fileURLToPath(testFileUrl)), '__snapshots__', name);
  const update = process.env.BREAKFIX_UPDATE_SNAPSHOTS === '1';
  if (!existsSync(file) || update) {
    if (!update && process.env.CI === 'true')
      assert.fail(`snapshot ${file} is missing; run the test locally and commit it`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `snapshot ${name} differs (BREAKFIX_UPDATE_SNAPSHOTS=1 to accept)`);
}
