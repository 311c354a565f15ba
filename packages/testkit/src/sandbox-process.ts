import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { SandboxInfo } from './sandbox-info.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'packages/sandbox/src/bin/sandbox.ts');

export interface SandboxProcess {
  info: SandboxInfo;
  /** The file the sandbox published `info` in (hand it to other processes as BREAKFIX_SANDBOX_FILE). */
  infoFile: string;
  child: ChildProcess;
  /** Output the sandbox printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs the sandbox CLI in a child process tied to ours (`setpriv --pdeathsig`), and resolves once
 * its info file appears. Used by the test runner's shared sandbox and by tests that must kill one.
 */
export async function startSandboxProcess(
  options: { timeoutMs?: number; tie?: boolean } = {},
): Promise<SandboxProcess> {
  const work = mkdtempSync(join(tmpdir(), 'breakfix-sandbox-run-'));
  const infoFile = join(work, 'sandbox.json');
  // Node itself with tsx's loader, not the tsx CLI: the CLI runs the script in a grandchild that
  // neither a kill nor the parent-death signal would reach.
  const args = ['--import', 'tsx', CLI, '--info-file', infoFile, '--dir', join(work, 'sandbox')];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const child =
    options.tie === false
      ? spawn(process.execPath, args, { cwd: ROOT, stdio })
      : spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, ...args], { cwd: ROOT, stdio });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (!existsSync(infoFile)) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(work, { recursive: true, force: true });
      throw new Error(`the sandbox did not start:\n${output}`);
    }
    await sleep(100);
  }
  const info = JSON.parse(readFileSync(infoFile, 'utf8')) as SandboxInfo;
  return {
    info,
    infoFile,
    child,
    output: () => output,
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(15_000)]);
        if (!gone) child.kill('SIGKILL');
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}
