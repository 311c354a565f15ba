import { join } from 'node:path';
import { UpstreamError, waitFor } from '@breakfix/core';
import { exposePort } from './expose.js';
import type { LabNetwork } from './lab-network.js';
import type { ManagedProcess } from './process.js';
import type { BootOptions, Vm } from './vm.js';

/**
 * What a guest being booted holds, released in reverse order: steps are pushed as each resource
 * is taken, so a boot that fails half-way gives back exactly what it took. Each step's failure is
 * logged and the rest still run.
 */
export function cleanupStack(label: string, log: (line: string) => void) {
  const steps: Array<() => Promise<void> | void> = [];
  return {
    push(step: () => Promise<void> | void): void {
      steps.push(step);
    },
    async run(): Promise<void> {
      for (const step of steps.splice(0).reverse()) {
        try {
          await step();
        } catch (error) {
          log(`${label}: clean-up step failed: ${(error as Error).message}`);
        }
      }
    },
  };
}

/**
 * The last steps of any guest's boot (a QEMU guest or a container node): its ports exposed on
 * the loopback address, and its handle, whose stop() releases everything once; a guest that
 * powers off ends like a VMI that finished, its resources going with it.
 */
export async function guestHandle(args: {
  label: string;
  options: BootOptions;
  network: LabNetwork;
  process: ManagedProcess;
  mac: string;
  plannedAddress: string;
  consoleLog: string;
  logDir: string;
  cleanups: ReturnType<typeof cleanupStack>;
  log: (line: string) => void;
}): Promise<Vm> {
  const { options, network, mac, plannedAddress, cleanups } = args;
  for (const port of options.expose.ports) {
    const exposure = await exposePort({
      namespace: network.namespace,
      logFile: join(args.logDir, `${options.name}.socat-${port}.log`),
      guest: plannedAddress,
      address: options.expose.address,
      port,
    });
    cleanups.push(() => exposure.close());
  }
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= cleanups.run().then(() => args.log(`${args.label}: stopped`));
    return stopping;
  };
  args.process.exited.then(() => stop());
  return {
    name: options.name,
    pid: args.process.pid,
    mac,
    plannedAddress,
    consoleLog: args.consoleLog,
    address: (timeoutMs) => network.leased(mac, timeoutMs),
    exited: args.process.exited,
    stop,
  };
}

/**
 * Waits until a guest's process is up (`ready` answers), or fails as soon as it exits, saying how
 * it ended.
 */
export async function untilStarted(args: {
  process: ManagedProcess;
  what: string;
  ready: () => Promise<unknown | undefined>;
  exited: (code: number | null) => string;
}): Promise<void> {
  const gone = args.process.exited.then((code) => {
    throw new UpstreamError(args.exited(code));
  });
  gone.catch(() => undefined);
  await Promise.race([gone, waitFor(args.ready, { what: args.what, timeoutMs: 60_000, intervalMs: 100 })]);
}
