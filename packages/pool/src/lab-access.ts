import { performance } from 'node:perf_hooks';
import { BreakfixError, ConflictError, UpstreamError } from '@breakfix/core';
import type { Kube, KubeObject } from '@breakfix/kube';
import { LABELS, type PlatformConfig } from '@breakfix/manifests';
import { generateEd25519, type SshKeyPair } from '@breakfix/secrets';
import { parsePublicKey, quote, type SshRunner, type SshTarget } from '@breakfix/ssh';
import type { Environment, EnvironmentStore, LabAccessDetails } from './environment-store.js';
import type { NodePortAllocator } from './nodeport-allocator.js';
import { closeSsh, openSsh } from './ssh-exposure.js';

/** Where `AuthorizedKeysFile` also looks (cloud-init's sshd drop-in; see cloud-init IMAGE_PATHS). */
const LEARNER_KEYS_DIR = '/etc/ssh/breakfix-keys';

export interface LabAccessOptions {
  kube: Kube;
  store: EnvironmentStore;
  allocator: NodePortAllocator;
  ssh: SshRunner;
  platform: PlatformConfig;
  /** The platform's operator key pair (in every lab's cloud-init). */
  operatorKey: SshKeyPair;
  /**
   * How learners reach the control plane. `nodePort` (default): the lab's NodePort on the node
   * that runs the control-plane VM (externalTrafficPolicy Local keeps the learner's address for
   * the NetworkPolicy). `vmAddress`: straight to the VM's address on port 22 — the sandbox, which
   * has no kube-proxy.
   */
  reach?: 'nodePort' | 'vmAddress';
  /** A name to hand out instead of the node's address (a DNS name or a bastion). */
  publicHost?: string;
  /** Deadline of each claim-time SSH command. Default 20 s. */
  commandTimeoutMs?: number;
  /** Told of every claim's outcome and duration (the claim-duration histogram). */
  onClaim?: (event: { pool: string; outcome: ClaimOutcome; seconds: number }) => void;
  log?: (message: string) => void;
}

/** How a claim ended: the error code for refusals (`pool_exhausted`, `conflict`, ...). */
export type ClaimOutcome = 'claimed' | string;

/** A lab's nodes, as the operator reaches them (pinned host keys): what scenario scripts run on. */
export interface LabTargets {
  labId: string;
  environment: Environment;
  nodes: Record<string, SshTarget>;
}

export interface ClaimRequest {
  pool: string;
  learner: string;
  scenario: string;
  ttlMs: number;
  /** The learner's registered public key; without one a fresh ed25519 pair is made for this claim. */
  publicKey?: string;
  /** Runs before the learner gets the lab (the scenario's break). A failure hands the lab back. */
  prepare?: (lab: LabTargets) => Promise<void>;
}

/** What a learner needs to log in, with `StrictHostKeyChecking=yes`. */
export interface LabConnection extends LabAccessDetails {
  /** `ssh -i ... -o ... user@host`, ready to paste. */
  command: string;
  /** Only when breakfix generated the key pair: returned once, never stored. */
  privateKey?: string;
}

export interface ClaimedLab {
  environment: Environment;
  connection: LabConnection;
}

interface Vmi extends KubeObject {
  status?: { phase?: string; nodeName?: string; interfaces?: { ipAddress?: string }[] };
}

interface NodeObject extends KubeObject {
  status?: { addresses?: { type: string; address: string }[] };
}

/** Something went wrong while a claimed lab was made ready for its learner; it was handed back. */
export class ClaimPreparationError extends UpstreamError {
  constructor(environmentId: string, cause: unknown) {
    super(`lab ${environmentId} could not be prepared: ${(cause as Error).message}`, {
      hint: 'that lab was discarded; claim again to get another one',
      cause,
    });
  }
}

/**
 * The claim-time and release-time steps around the atomic claim: open the lab's SSH NodePort,
 * install the learner's key on the control plane, run the scenario's preparation (its break),
 * record and return the connection; at release, remove the key and close the port first, so
 * access ends the moment the learner lets go (the teardown that follows may take a while).
 */
export function createLabAccess(options: LabAccessOptions) {
  const { kube, store, ssh, platform } = options;
  const log = options.log ?? (() => {});
  const timeoutMs = options.commandTimeoutMs ?? 20_000;
  const exposure = { kube, allocator: options.allocator };
  const learnerUser = platform.learner.user;

  /** The operator's SSH targets for every node of an environment (by VM name: cp, w1, ...). */
  async function targets(environment: Environment): Promise<LabTargets & { vmis: Map<string, Vmi> }> {
    const vmis = new Map(
      (await kube.list<Vmi>('kubevirt.io/v1', 'VirtualMachineInstance', { namespace: environment.namespace })).map(
        (vmi) => [vmi.metadata.name, vmi],
      ),
    );
    const nodes: Record<string, SshTarget> = {};
    for (const [name, hostKey] of Object.entries(environment.hostKeys ?? {})) {
      const address = vmis.get(name)?.status?.interfaces?.[0]?.ipAddress;
      if (address === undefined || address === '') {
        throw new UpstreamError(`lab ${environment.id}: VM ${name} has no address (is it running?)`);
      }
      nodes[name] = {
        host: address,
        username: platform.operator.user,
        privateKey: options.operatorKey.privateKey,
        hostKey,
      };
    }
    return { labId: environment.id, environment, nodes, vmis };
  }

  /** Where learners connect: the node running the control plane + NodePort, or the VM itself. */
  async function endpoint(lab: Awaited<ReturnType<typeof targets>>, nodePort: number | undefined) {
    const cp = lab.nodes.cp;
    if (cp === undefined) throw new UpstreamError(`lab ${lab.labId} has no control-plane VM`);
    if (options.reach === 'vmAddress' || nodePort === undefined)
      return { host: options.publicHost ?? cp.host, port: 22 };
    if (options.publicHost !== undefined) return { host: options.publicHost, port: nodePort };
    const nodeName = lab.vmis.get('cp')?.status?.nodeName;
    const node =
      nodeName === undefined
        ? undefined
        : await kube.get<NodeObject>({ apiVersion: 'v1', kind: 'Node', name: nodeName });
    const addresses = node?.status?.addresses ?? [];
    const address = (addresses.find((a) => a.type === 'ExternalIP') ?? addresses.find((a) => a.type === 'InternalIP'))
      ?.address;
    if (address === undefined) {
      throw new UpstreamError(
        `lab ${lab.labId}: node ${nodeName ?? '(unscheduled)'} of its control plane has no address`,
        {
          hint: 'set publicHost in the platform config when nodes are not reachable from learners',
        },
      );
    }
    return { host: address, port: nodePort };
  }

  async function installKey(target: SshTarget, keyLine: string): Promise<void> {
    const file = `${LEARNER_KEYS_DIR}/${learnerUser}`;
    const result = await ssh.exec(
      target,
      `{ test -d ${LEARNER_KEYS_DIR} || mkdir -m 755 ${LEARNER_KEYS_DIR}; } && cat > ${quote(file)} && chmod 644 ${quote(file)}`,
      { sudo: true, stdin: `${keyLine}\n`, timeoutMs },
    );
    if (result.code !== 0) throw new UpstreamError(`installing the learner's key failed: ${result.stderr.trim()}`);
  }

  async function removeKey(target: SshTarget): Promise<void> {
    const result = await ssh.exec(target, `rm -f ${quote(`${LEARNER_KEYS_DIR}/${learnerUser}`)}`, {
      sudo: true,
      timeoutMs,
    });
    if (result.code !== 0) throw new UpstreamError(`removing the learner's key failed: ${result.stderr.trim()}`);
  }

  /** Ends a learner's access: key removed (best effort: the VM may be gone), port closed, record released. */
  async function release(id: string): Promise<Environment> {
    let environment = await store.get(id);
    if (environment.state === 'claimed') {
      // The reaper may release it at the same moment: whoever loses the race finds it releasing.
      await store.apply(id, 'release').catch(async (error: unknown) => {
        if (!(error instanceof ConflictError)) throw error;
      });
      environment = await store.get(id);
    }
    if (environment.state !== 'releasing') {
      return environment; // already torn down or never handed out: nothing to close
    }
    try {
      const lab = await targets(environment);
      if (lab.nodes.cp !== undefined) await removeKey(lab.nodes.cp);
    } catch (error) {
      // The namespace goes next; a VM we cannot reach takes the key with it.
      log(`${id}: learner key not removed (${(error as Error).message}); the teardown deletes the VM`);
    }
    await closeSsh(exposure, { labId: id, namespace: environment.namespace });
    return await store.get(id);
  }

  /**
   * Claims a ready lab of `pool` for a learner (atomically: one lab per learner, never one lab for
   * two), then prepares it. When preparing fails, the lab is released (the worker tears it down)
   * and the claim fails with ClaimPreparationError; the learner can simply claim again.
   */
  async function claim(request: ClaimRequest): Promise<ClaimedLab> {
    const started = performance.now();
    const report = (outcome: ClaimOutcome) =>
      options.onClaim?.({ pool: request.pool, outcome, seconds: (performance.now() - started) / 1000 });
    try {
      const claimed = await claimSteps(request);
      report('claimed');
      return claimed;
    } catch (error) {
      report(error instanceof BreakfixError ? error.code : 'error');
      throw error;
    }
  }

  async function claimSteps(request: ClaimRequest): Promise<ClaimedLab> {
    const key = request.publicKey === undefined ? undefined : parsePublicKey(request.publicKey);
    const environment = await store.claim(request);
    try {
      const lab = await targets(environment);
      const cp = lab.nodes.cp;
      if (cp === undefined) throw new UpstreamError(`lab ${environment.id} has no control-plane VM`);
      const generated = key === undefined ? generateEd25519(`breakfix-${environment.id}`) : undefined;
      const learnerKey = key ?? parsePublicKey(generated?.publicKey ?? '');

      const nodePort =
        options.reach === 'vmAddress'
          ? undefined
          : (
              await openSsh(exposure, {
                labId: environment.id,
                namespace: environment.namespace,
                labels: { [LABELS.lab]: environment.id, [LABELS.managedBy]: 'breakfix' },
              })
            ).nodePort;
      await installKey(cp, learnerKey.line);
      if (request.prepare !== undefined) await request.prepare(lab);

      const { host, port } = await endpoint(lab, nodePort);
      const hostPattern = port === 22 ? host : `[${host}]:${port}`;
      const hostKey = (environment.hostKeys?.cp ?? '').split(/\s+/).slice(0, 2).join(' ');
      const access: LabAccessDetails = {
        host,
        port,
        user: learnerUser,
        knownHosts: `${hostPattern} ${hostKey}`,
        ...(nodePort === undefined ? {} : { nodePort }),
        learnerKeyFingerprint: learnerKey.fingerprint,
      };
      await store.setAccess(environment.id, access);
      const identity = generated === undefined ? '' : `-i breakfix-${environment.id}.key `;
      return {
        environment: await store.get(environment.id),
        connection: {
          ...access,
          command: `ssh ${identity}-o StrictHostKeyChecking=yes -o UserKnownHostsFile=breakfix-${environment.id}.known_hosts ${port === 22 ? '' : `-p ${port} `}${learnerUser}@${host}`,
          ...(generated === undefined ? {} : { privateKey: generated.privateKey }),
        },
      };
    } catch (error) {
      log(`${environment.id}: claim by ${request.learner} failed while preparing: ${(error as Error).message}`);
      await release(environment.id).catch((cause: unknown) =>
        log(`${environment.id}: release after a failed claim failed too: ${(cause as Error).message}`),
      );
      if (error instanceof BreakfixError && error.code === 'invalid_input') throw error;
      throw new ClaimPreparationError(environment.id, error);
    }
  }

  return { claim, release, targets: async (env: Environment): Promise<LabTargets> => await targets(env) };
}

export type LabAccess = ReturnType<typeof createLabAccess>;
