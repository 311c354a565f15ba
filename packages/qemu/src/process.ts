import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited, with its exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM to the whole process group, SIGKILL after `graceMs`. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const SETPRIV = '/usr/bin/setpriv';

/**
 * Starts a long-running helper (etcd, apiserver, redis, sshd) so that nothing outlives us:
 * - it leads its own process group, so stop() reaches everything it forked;
 * - through util-linux `setpriv --pdeathsig KILL` the kernel kills it when our process dies,
 *   even by SIGKILL, so a crashed test run leaves nothing behind;
 * - stdout and stderr go to `logFile`, which error messages point at.
 */
export function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): ManagedProcess {
  const fd = openSync(options.logFile, 'a');
  const [file, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]]
    : [command, [...args]];
  let child: ChildProcess;
  try {
    child = spawn(file, argv, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} did not start (${command}); see ${options.logFile}`);
  child.unref();
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let stopping: Promise<void> | undefined;

  return {
    name,
    pid,
    logFile: options.logFile,
    exited,
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        signalGroup(pid, 'SIGTERM');
        const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
        if (!done) {
          signalGroup(pid, 'SIGKILL');
          // The child is unref'd: a timer keeps the event loop alive until its exit is seen.
          await Promise.race([exited, sleep(10_000)]);
        }
        // Whatever the leader left in its group (sshd session children, say) goes too.
        signalGroup(pid, 'SIGKILL');
      })();
      return stopping;
    },
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
