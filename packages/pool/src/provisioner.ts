import { DeadlineExceededError, UpstreamError, waitFor } from '@breakfix/core';
import type { Kube, KubeObject } from '@breakfix/kube';
import {
  isolationPolicies,
  type LabSpec,
  labNamespace,
  labNodes,
  type PlatformConfig,
  renderLab,
} from '@breakfix/manifests';
import { createLabSecrets, type SshKeyPair } from '@breakfix/secrets';
import type { SshRunner } from '@breakfix/ssh';
import type { EnvironmentStore } from './environment-store.js';
import { changedNodes, listLabVmis, waitForNodes } from './lab-vmis.js';

export interface ProvisionerOptions {
  kube: Kube;
  store: EnvironmentStore;
  ssh: SshRunner;
  platform: PlatformConfig;
  /** The platform's operator key pair; its public half is in every lab. */
  operatorKey: SshKeyPair;
  /** Every VMI Running within this. Default 10 minutes. */
  vmsRunningTimeoutMs?: number;
  /** The control plane's readiness marker within this, after the VMs run. Default 15 minutes. */
  readyTimeoutMs?: number;
  /** Pause between readiness probes. Default 5 s. */
  probeIntervalMs?: number;
  /**
   * The last word on a lab's objects before they are applied: site-specific annotations, or
   * faults injected in tests (the simulator's `sim.breakfix.dev/*` annotations).
   */
  decorate?: (objects: KubeObject[]) => KubeObject[];
  log?: (message: string) => void;
}

export interface ProvisionRequest {
  id: string;
  pool: string;
  spec: LabSpec;
  /**
   * Stops the provisioning between steps (before each object is applied, in every wait): the
   * lab is failed and its namespace deleted as for any other failure, and the promise rejects
   * with the signal's reason. Who aborts waits for that before tearing anything down, so no
   * object is created after the teardown.
   */
  signal?: AbortSignal | undefined;
}

const READY_MARKER = '/var/lib/breakfix/ready';
const FAILED_MARKER = '/var/lib/breakfix/failed';

/**
 * Boots one environment: renders and applies the lab, waits until every VM runs, then probes
 * the control plane over SSH (pinned host key) until the node bootstrap's readiness marker is
 * there. Idempotent per environment id, so a retried job picks up where the last one died.
 * Any failure or overrun marks the environment failed and deletes its namespace.
 */
export function createProvisioner(options: ProvisionerOptions) {
  const { kube, store, ssh, platform } = options;
  const log = options.log ?? (() => {});

  /** The namespace an environment's lab lives in (its id is the lab id). */
  const namespaceFor = (id: string) => labNamespace({ labId: id }, platform);

  async function provision(request: ProvisionRequest): Promise<'ready' | 'failed' | 'skipped'> {
    const env = await store.create({
      id: request.id,
      pool: request.pool,
      namespace: namespaceFor(request.spec.labId),
    });
    if (env.state !== 'provisioning') return 'skipped'; // a retry of a job that already finished
    try {
      const nodes = labNodes(request.spec).map((n) => n.name);
      let hostKeys = env.hostKeys;
      if (hostKeys === undefined) {
        const secrets = await createLabSecrets({ labId: request.spec.labId, nodes });
        const rendered = renderLab(request.spec, platform, secrets, { addons: [isolationPolicies] });
        const objects = options.decorate ? options.decorate(rendered) : rendered;
        hostKeys = Object.fromEntries(nodes.map((n) => [n, secrets.hostKeys[n]?.publicKey ?? '']));
        // Recorded before anything is applied: a retry then knows an earlier attempt began.
        await store.setHostKeys(request.id, hostKeys);
        for (const object of objects) {
          request.signal?.throwIfAborted();
          await kube.apply(object);
        }
      } else {
        // A retried job (its worker died): the secrets of the first attempt are gone with it, so
        // only a lab whose VMs were all created can be resumed; anything less is cleaned up.
        const vms = await kube.list('kubevirt.io/v1', 'VirtualMachine', { namespace: env.namespace });
        if (vms.length < nodes.length) {
          throw new IncompleteLabError(
            `${request.id}: an earlier attempt died after creating ${vms.length} of ${nodes.length} VMs`,
          );
        }
        log(`${request.id}: resuming an earlier attempt (all ${nodes.length} VMs exist)`);
      }

      const running = await waitForNodes(kube, env.namespace, nodes, {
        what: `${nodes.length} VMs of ${request.id} to run with an address`,
        timeoutMs: options.vmsRunningTimeoutMs ?? 600_000,
        signal: request.signal,
      });
      log(`${request.id}: every VM runs with an address; waiting for the control plane`);

      const target = {
        host: running.cp?.address ?? '',
        username: platform.operator.user,
        privateKey: options.operatorKey.privateKey,
        hostKey: hostKeys.cp ?? '',
      };
      await waitFor(
        async () => {
          // A VMI that vanished, was replaced or ended since it ran is a lost boot (a new VMI is a
          // fresh disk): the lab is failed now, with the reason, not at the deadline or after it
          // is handed out.
          const lost = changedNodes(running, await listLabVmis(kube, env.namespace));
          if (lost !== undefined) throw new LostVmError(`${lost} while ${request.id} was provisioning`);
          const probe = await ssh.exec(
            target,
            `if test -f ${FAILED_MARKER}; then echo failed; cat ${FAILED_MARKER}; elif test -f ${READY_MARKER}; then echo ready; fi`,
            {
              timeoutMs: 15_000,
            },
          );
          const [state, ...reason] = probe.stdout.trim().split('\n');
          if (state === 'failed')
            throw new FatalBootstrapError(reason.join(' ') || 'the node bootstrap reported failure');
          return state === 'ready' ? true : undefined;
        },
        {
          what: `the control plane of ${request.id} to be ready`,
          timeoutMs: options.readyTimeoutMs ?? 900_000,
          intervalMs: options.probeIntervalMs ?? 5_000,
          signal: request.signal,
          // A bootstrap that said "failed" is final: no retry until the deadline.
          isFinal: (error) => error instanceof FatalBootstrapError || error instanceof LostVmError,
        },
      );

      // The boot that was checked: the pool fails (or flags) the lab if another VMI replaces it.
      // Its addresses too: claims and the orchestrator's kept connections go there without a VMI read.
      await store.setBoot(request.id, running);
      await store.apply(request.id, 'provisioned');
      log(`${request.id} ready in pool ${request.pool}`);
      return 'ready';
    } catch (error) {
      const reason = (error as Error).message;
      log(`${request.id} failed: ${reason}`);
      // Kept per pool, so `labctl pools` and the dashboard say why a pool is not filling.
      await store.recordPoolFailure(request.pool, { lab: request.id, reason: reason.slice(0, 1000), at: Date.now() });
      await fail(request.id, env.namespace);
      if (
        error instanceof DeadlineExceededError ||
        error instanceof FatalBootstrapError ||
        error instanceof LostVmError ||
        error instanceof IncompleteLabError
      )
        return 'failed';
      throw error;
    }
  }

  async function fail(id: string, namespace: string): Promise<void> {
    await store.apply(id, 'fail').catch(() => undefined);
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
    await store.apply(id, 'delete').catch(() => undefined);
  }

  /** Deletes a released (or failed) environment's namespace and records it deleted. Idempotent. */
  async function teardown(id: string): Promise<void> {
    const env = await store.get(id);
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: env.namespace });
    if (env.state === 'claimed') await store.apply(id, 'release');
    if (env.state !== 'deleted') await store.apply(id, 'delete').catch(() => undefined);
  }

  // The install its labs are labelled with: the pool worker's reconciler touches only those.
  return { provision, teardown, namespaceFor, instance: platform.instance };
}

/** The node bootstrap wrote its failure marker: retrying the probe cannot help. */
class FatalBootstrapError extends UpstreamError {}

/** A node's VMI vanished, was replaced or ended after it ran: its disk and boot are gone. */
class LostVmError extends UpstreamError {}

/** A retried provision found a half-applied lab it cannot finish without the lost secrets. */
class IncompleteLabError extends UpstreamError {}
