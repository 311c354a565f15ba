import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LABCTL = join(ROOT, 'apps/labctl/bin/labctl.mjs');

/** One line of `labctl scenario test --json`. */
export interface Run {
  scenario: string;
  version: string;
  nodes: 'vm' | 'container' | 'simulated';
  ok: boolean;
  reusedLab: boolean;
  labId?: string;
  seconds: Record<string, number>;
  error?: string;
  memory?: Record<string, { totalMiB: number; usedMiB: number; cacheMiB: number }>;
}

/** Runs labctl as an instructor does, to completion or its deadline; never rejects. */
export function labctl(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [LABCTL, ...args],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, out, err) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout: out, stderr: err }),
    );
  });
}

/** The runs `scenario test --json` printed, one JSON line each. */
export function parseRuns(stdout: string): Run[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Run);
}
