import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@breakfix/core';
import { type ManagedProcess, spawnManaged } from './process.js';
import { run, TOOLS } from './tools.js';

/**
 * An anonymous network namespace: it exists only as long as its holder process (`unshare --net
 * sleep infinity`) or something that joined it lives. Unlike `ip netns add` nothing is mounted under
 * /run/netns, so when our process dies the kernel kills the holder (pdeathsig) and every helper
 * inside (pdeathsig too), and the namespace with its bridge and taps disappears.
 */
export interface NetworkNamespace {
  /** Pid of the holder; `/proc/<pid>/ns/net` names the namespace. */
  readonly pid: number;
  readonly path: string;
  /** Runs a short command inside the namespace. */
  run(command: string, args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Starts a long-running helper inside the namespace, tied to our lifetime like every child. */
  spawn(name: string, command: string, args: readonly string[], logFile: string): ManagedProcess;
  stop(): Promise<void>;
}

export async function createNetworkNamespace(name: string, dir: string): Promise<NetworkNamespace> {
  const holder = spawnManaged(`netns-${name}`, TOOLS.unshare.path, ['--net', '--', 'sleep', 'infinity'], {
    logFile: join(dir, 'netns.log'),
  });
  const path = `/proc/${holder.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  // unshare(2) runs after the spawn returns: until then the holder still shares our namespace.
  await waitFor(async () => (readlinkSync(path) !== ours ? true : undefined), {
    what: `namespace holder ${holder.pid} to unshare its network namespace`,
    timeoutMs: 10_000,
    intervalMs: 10,
  }).catch(async (error: unknown) => {
    await holder.stop(0);
    throw error;
  });
  const enter = [`--net=${path}`, '--'];
  const namespace: NetworkNamespace = {
    pid: holder.pid,
    path,
    run: (command, args, timeoutMs) => run(TOOLS.nsenter.path, [...enter, command, ...args], timeoutMs),
    spawn: (processName, command, args, logFile) =>
      // nsenter without --fork execs the command: the pid we hold is the helper's own.
      spawnManaged(processName, TOOLS.nsenter.path, [...enter, command, ...args], { logFile }),
    stop: () => holder.stop(1_000),
  };
  await namespace.run(TOOLS.ip.path, ['link', 'set', 'lo', 'up']);
  return namespace;
}
