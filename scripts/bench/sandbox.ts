import { performance } from 'node:perf_hooks';
import { waitFor } from '@breakfix/core';
import type { KubeObject } from '@breakfix/kube';
import { resolveBinaries, startSandbox } from '@breakfix/sandbox';
import ssh2 from 'ssh2';
import { cloudInitSecret, keyPair, namespace, userData, virtualMachine } from '../../packages/sandbox/test/fixtures.js';
import type { BenchSettings } from '../bench.js';
import { type Figure, latency } from './stats.js';

const RUNS = 3;
const VMS = 20;

/** Sandbox start with a warm binary cache, and VM apply -> SSH login through the simulator. */
export async function* benchSandbox(_settings: BenchSettings): AsyncGenerator<Figure> {
  const binaries = await resolveBinaries({ build: false });
  const starts: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const sandbox = await startSandbox({ binaries });
    starts.push(performance.now() - started);
    if (run < RUNS - 1) {
      await sandbox.stop();
      continue;
    }

    const host = keyPair('host');
    const user = keyPair('user');
    await sandbox.kube.apply(namespace('bench'));
    await sandbox.kube.apply(
      cloudInitSecret('bench', 'ci', userData({ hostKey: host, users: { breakfix: [user.public] } })),
    );
    const toSsh: number[] = [];
    await Promise.all(
      Array.from({ length: VMS }, async (_, i) => {
        const started = performance.now();
        await sandbox.kube.apply(virtualMachine('bench', `vm-${i}`, { secret: 'ci' }));
        const address = await waitFor(
          async () => {
            const vmi = await sandbox.kube.get<
              KubeObject & { status?: { phase?: string; interfaces?: { ipAddress?: string }[] } }
            >({
              apiVersion: 'kubevirt.io/v1',
              kind: 'VirtualMachineInstance',
              namespace: 'bench',
              name: `vm-${i}`,
            });
            return vmi?.status?.phase === 'Running' ? vmi.status.interfaces?.[0]?.ipAddress : undefined;
          },
          { what: `vm-${i} running`, timeoutMs: 60_000, intervalMs: 20 },
        );
        await login(address, user.private);
        toSsh.push(performance.now() - started);
      }),
    );
    await sandbox.stop();
    yield latency(`simulator.vm_apply_to_ssh_login (${VMS} VMs at once)`, toSsh);
  }
  yield latency('sandbox.start.warm_cache', starts);
}

function login(host: string, privateKey: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('ready', () => {
      client.end();
      resolve();
    });
    client.on('error', reject);
    client.connect({
      host,
      port: 22,
      username: 'breakfix',
      privateKey,
      readyTimeout: 10_000,
      hostVerifier: () => true,
    });
  });
}
