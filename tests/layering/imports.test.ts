import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Where each relative import of a file under `<kind>/<name>/src` lands, when it leaves that workspace. */
function crossings(kind: 'apps' | 'packages'): string[] {
  const found: string[] = [];
  for (const name of readdirSync(join(root, kind))) {
    const workspace = join(root, kind, name);
    for (const file of sources(join(workspace, 'src')).filter((f) => !f.includes('node_modules'))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const specifier = /\bfrom\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)/.exec(line);
          const path = specifier?.[1] ?? specifier?.[2];
          if (path === undefined) return;
          const target = resolve(dirname(file), path);
          if (!target.startsWith(`${workspace}/`))
            found.push(`${relative(root, file)}:${i + 1} imports ${relative(root, target)}`);
        });
    }
  }
  return found;
}

test('no app or package source reaches into another workspace by path (shared code lives in packages/)', {
  timeout: 30_000,
}, () => {
  assert.deepEqual([...crossings('apps'), ...crossings('packages')], []);
});
