import type { Kube, KubeObject } from '@breakfix/kube';
import { parsePlatformConfig } from '@breakfix/manifests';
import { emulatedBootstrap } from '@breakfix/sandbox';
import { createOperatorKey, type SshKeyPair } from '@breakfix/secrets';
import { createSshRunner, type SshRunnerOptions } from '@breakfix/ssh';
import { uniqueName } from '@breakfix/testkit';
import type { EnvironmentStore } from '../src/environment-store.js';
import { createProvisioner, type ProvisionerOptions } from '../src/provisioner.js';

/**
 * What most tests need to boot labs on the simulator: a fresh operator key, the platform config
 * around it, an SSH runner, and a provisioner with deadlines generous enough for a busy CI
 * (slow is not failed) and a short probe interval. The simulated guests emulate the node bootstrap
 * (after any `decorate` of the caller), since no kubeadm runs in them. Each call is its own
 * platform instance unless told one, so a pool worker's reconciler in one test never sees
 * another test's labs on the shared apiserver as its own.
 */
export function simulatedLabs(
  kube: Kube,
  store: EnvironmentStore,
  overrides: Partial<Omit<ProvisionerOptions, 'kube' | 'store'>> & {
    sshOptions?: SshRunnerOptions;
    instance?: string;
  } = {},
) {
  const { sshOptions, instance, ...options } = overrides;
  const operatorKey: SshKeyPair = options.operatorKey ?? createOperatorKey();
  const platform = parsePlatformConfig({
    instance: instance ?? uniqueName('test'),
    operator: { publicKey: operatorKey.publicKey },
  });
  const ssh = createSshRunner(sshOptions);
  const provisioner = createProvisioner({
    kube,
    store,
    ssh,
    platform,
    operatorKey,
    vmsRunningTimeoutMs: 120_000,
    readyTimeoutMs: 120_000,
    probeIntervalMs: 200,
    ...options,
    decorate: (objects) => emulatedBootstrap(options.decorate ? options.decorate(objects) : objects),
  });
  return { operatorKey, platform, ssh, provisioner };
}

/** A `decorate` hook that makes every VM of the lab take `ms` to boot in the simulator. */
export function bootDelay(ms: number): (objects: KubeObject[]) => KubeObject[] {
  return (objects) =>
    objects.map((o) =>
      o.kind === 'VirtualMachine'
        ? { ...o, metadata: { ...o.metadata, annotations: { 'sim.breakfix.dev/boot-delay-ms': String(ms) } } }
        : o,
    );
}

/** Deletes the namespace of every environment the store knows (a test's clean-up). */
export async function deleteLabs(kube: Kube, store: Pick<EnvironmentStore, 'list'>): Promise<void> {
  for (const env of await store.list()) await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: env.namespace });
}
