import { performance } from 'node:perf_hooks';
import { BreakfixError, ConflictError, UpstreamError, withDeadline } from '@breakfix/core';
import type { Kube, KubeObject } from '@breakfix/kube';
import { IMAGE_PATHS, labLabels, type PlatformConfig } from '@breakfix/manifests';
import { deriveSealingKey, generateEd25519, openSecret, type SshKeyPair, sealSecret } from '@breakfix/secrets';
import { parsePublicKey, quote, type SshRunner, type SshTarget } from '@breakfix/ssh';
import { type ClaimTrace, claimTimer } from './claim-trace.js';
import type { Environment, EnvironmentStore, LabAccessDetails, LabNode } from './environment-store.js';
import { waitForNodes } from './lab-vmis.js';
import type { NodePortAllocator } from './nodeport-allocator.js';
import { closeSsh, openSsh, waitForSshEndpoint } from './ssh-exposure.js';

/** Where `AuthorizedKeysFile` also looks: cloud-init's sshd drop-in names it, root-owned, StrictModes on. */
const LEARNER_KEYS_DIR = IMAGE_PATHS.learnerKeysDir;

export interface LabAccessOptions {
  kube: Kube;
  store: EnvironmentStore;
  allocator: NodePortAllocator;
  ssh: SshRunner;
  platform: PlatformConfig;
  /** The platform's operator key pair (in every lab's cloud-init). */
  operatorKey: SshKeyPair;
  /**
   * A name to hand out instead of the address of the node that runs the control plane (a DNS name
   * or a bastion); the port is the lab's NodePort either way. Learners reach the control plane
   * through that NodePort only (externalTrafficPolicy Local keeps their address for the
   * NetworkPolicy); the platform's own SSH goes to the VMs' addresses.
   */
  publicHost?: string;
  /** Deadline of each claim-time SSH command. Default 20 s. */
  commandTimeoutMs?: number;
  /** Told of every claim's outcome and duration (the claim-duration histogram). */
  onClaim?: (event: { pool: string; outcome: ClaimOutcome; seconds: number }) => void;
  /** Told of every step of every claim, timed (where a claim's time goes). Nothing is timed without it. */
  trace?: ClaimTrace;
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
  prepare?: (lab: PreparedLab) => Promise<unknown>;
  /**
   * `prepare` runs `lab.setup[node]` through sudo on every node before anything else it does
   * there, in the same SSH command (ScenarioRunner.applyBreak's `before`), and fails when it fails.
   * Then a claim is one SSH command per node. Otherwise the claim runs the setup itself first.
   */
  prepareRunsSetup?: boolean;
}

/**
 * A claimed lab as its preparation sees it: the operator's targets, and per node the shell
 * command that installs this claim's authorized keys (the claim's setup), to be run as root.
 */
export interface PreparedLab extends LabTargets {
  setup: Readonly<Record<string, string>>;
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
 * install the learner's key on every node (and a lab key for hopping from the control plane to
 * the workers), run the scenario's preparation (its break), record and return the connection; at
 * release, remove the keys from every node and close the port first, so access ends the moment
 * the learner lets go (the teardown that follows may take a while).
 */
export function createLabAccess(options: LabAccessOptions) {
  const { kube, store, ssh, platform } = options;
  const log = options.log ?? (() => {});
  const timeoutMs = options.commandTimeoutMs ?? 20_000;
  /** How long a release waits for the keys to go before it answers anyway (the teardown follows). */
  const releaseKeysMs = Math.min(timeoutMs, 10_000);
  const exposure = { kube, allocator: options.allocator };
  const learnerUser = platform.learner.user;
  // The terminal key's private half is stored sealed with a key only holders of the operator key
  // can derive: whoever could open it could already log in to every lab as the operator.
  const sealingKey = deriveSealingKey(options.operatorKey.privateKey, 'breakfix terminal key');

  /**
   * The operator's SSH targets for every node of an environment (by VM name: cp, w1, ...): at the
   * addresses the provisioner recorded when the lab became ready, else (labs recorded before
   * addresses were) read from the VMIs. A VMI replaced since is a lost lab either way
   * (lab-health.ts); its pinned host key keeps a stale address from reaching another lab.
   */
  async function targets(
    environment: Environment,
    waitMs = timeoutMs,
  ): Promise<LabTargets & { where: Record<string, LabNode> }> {
    const names = Object.keys(environment.hostKeys ?? {});
    const recorded = environment.nodes;
    const where =
      recorded !== undefined && names.every((name) => recorded[name]?.address)
        ? recorded
        : await waitForNodes(kube, environment.namespace, names, {
            what: `the VMs of lab ${environment.id} to run with an address`,
            timeoutMs: waitMs,
          }).catch((error: unknown) => {
            throw new UpstreamError(`lab ${environment.id}: ${(error as Error).message}`, { cause: error });
          });
    const nodes: Record<string, SshTarget> = {};
    for (const [name, hostKey] of Object.entries(environment.hostKeys ?? {})) {
      nodes[name] = {
        host: where[name]?.address ?? '',
        username: platform.operator.user,
        privateKey: options.operatorKey.privateKey,
        hostKey,
      };
    }
    return { labId: environment.id, environment, nodes, where };
  }

  /** Where learners connect: the node running the control plane, at the lab's NodePort. */
  async function endpoint(lab: Awaited<ReturnType<typeof targets>>, nodePort: number) {
    if (lab.nodes.cp === undefined) throw new UpstreamError(`lab ${lab.labId} has no control-plane VM`);
    if (options.publicHost !== undefined) return { host: options.publicHost, port: nodePort };
    const nodeName = lab.where.cp?.nodeName;
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

  /**
   * The shell command (run as root) that writes the learner's authorized keys on one node:
   * root-owned, outside the learner's home. The keys are in the command itself, so it can share
   * one SSH command with the break (whose script comes on standard input). Idempotent.
   */
  function keysCommand(keyLines: readonly string[]): string {
    const file = quote(`${LEARNER_KEYS_DIR}/${learnerUser}`);
    return `{ test -d ${LEARNER_KEYS_DIR} || mkdir -m 755 ${LEARNER_KEYS_DIR}; } && printf '%s\\n' ${keyLines.map(quote).join(' ')} > ${file} && chmod 644 ${file}`;
  }

  /** Runs a node's setup (the keys) on its own, when the preparation does not. */
  async function installKeys(target: SshTarget, command: string): Promise<void> {
    const result = await ssh.exec(target, command, { sudo: true, timeoutMs, idempotent: true });
    if (result.code !== 0) throw new UpstreamError(`installing the learner's key failed: ${result.stderr.trim()}`);
  }

  async function removeKey(target: SshTarget): Promise<void> {
    const result = await ssh.exec(target, `rm -f ${quote(`${LEARNER_KEYS_DIR}/${learnerUser}`)}`, {
      sudo: true,
      timeoutMs,
      idempotent: true,
    });
    if (result.code !== 0) throw new UpstreamError(`removing the learner's key failed: ${result.stderr.trim()}`);
  }

  /**
   * Lets the learner `ssh w1` from the control plane. Learners reach SSH only through the control
   * plane's NodePort; their own private key stays on their machine (breakfix never has it when
   * they registered a public key) and agent forwarding would need their cooperation on every
   * connection. So each claim gets a lab key pair of its own: its public half is authorized on
   * every node next to the learner's key, its private half becomes the learner's default identity
   * (`~/.ssh/id_ed25519`) on the control plane, and `~/.ssh/known_hosts` there pins every node's
   * host key under its short and cluster names. Written as the learner (logged in with the lab
   * key), so ownership is right without root touching the learner's home. The release removes
   * the authorized keys on every node, which revokes the lab key with the learner's. A one-node
   * lab has no other node to hop to, and skips it (and its learner handshake).
   */
  async function placeLabKey(
    environment: Environment,
    cp: SshTarget,
    labKey: { privateKey: string; publicKey: string },
  ): Promise<void> {
    const domain = `${environment.namespace}.svc.${platform.hostClusterDomain}`;
    const knownHosts = Object.entries(environment.hostKeys ?? {}).map(([node, hostKey]) => {
      const key = hostKey.split(/\s+/).slice(0, 2).join(' ');
      return `${node},${node}.${environment.namespace},${node}.${environment.namespace}.svc,${node}.${domain} ${key}`;
    });
    const files = [
      ['id_ed25519', '600', labKey.privateKey.endsWith('\n') ? labKey.privateKey : `${labKey.privateKey}\n`],
      ['id_ed25519.pub', '644', `${labKey.publicKey.trim()}\n`],
      ['known_hosts', '644', `${knownHosts.join('\n')}\n`],
    ] as const;
    // cloud-init makes the learner's home /home/<user>; named, since $HOME may not be set right
    // for a non-interactive session.
    const dir = `/home/${learnerUser}/.ssh`;
    const script = [
      'set -e',
      'umask 077',
      `mkdir -p ${dir}`,
      `chmod 700 ${dir}`,
      ...files.map(
        ([name, mode, content]) =>
          `printf '%s' ${quote(content)} > ${dir}/${name}.tmp && chmod ${mode} ${dir}/${name}.tmp && mv ${dir}/${name}.tmp ${dir}/${name}`,
      ),
    ].join('\n');
    const result = await ssh.exec({ ...cp, username: learnerUser, privateKey: labKey.privateKey }, script, {
      timeoutMs,
    });
    if (result.code !== 0)
      throw new UpstreamError(`placing the lab key on the control plane failed: ${result.stderr.trim()}`);
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
    // The NodePort is the learner's way in: it closes first, whatever happens to the keys.
    await closeSsh(exposure, { labId: id, namespace: environment.namespace });
    try {
      // Best effort, and bounded: a VM that is not running, or a guest that does not answer,
      // must not hold up the learner's "stopped" (the teardown deletes the VMs and their keys).
      await withDeadline('removing the learner key', releaseKeysMs, async () => {
        const lab = await targets(environment, 2_000);
        // Every node: the learner's key and the lab key (hence `ssh w1` from the control plane) end together.
        const results = await Promise.allSettled(Object.values(lab.nodes).map((node) => removeKey(node)));
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed.length > 0) throw failed[0]?.reason;
      });
    } catch (error) {
      // The namespace goes next; a VM we cannot reach takes the key with it.
      log(`${id}: learner key not removed (${(error as Error).message}); the teardown deletes the VMs`);
    }
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
    const timer = claimTimer(options.trace, request);
    try {
      const claimed = await timer.step('total', () => claimSteps(request, timer));
      report('claimed');
      return claimed;
    } catch (error) {
      report(error instanceof BreakfixError ? error.code : 'error');
      throw error;
    }
  }

  async function claimSteps(request: ClaimRequest, timer: ReturnType<typeof claimTimer>): Promise<ClaimedLab> {
    const key = request.publicKey === undefined ? undefined : parsePublicKey(request.publicKey);
    const environment = await timer.step('redis_claim', async () => {
      const claimed = await store.claim(request);
      timer.labIs(claimed.id);
      return claimed;
    });
    try {
      const lab = await timer.step('vmi_lookup', () => targets(environment));
      const cp = lab.nodes.cp;
      if (cp === undefined) throw new UpstreamError(`lab ${environment.id} has no control-plane VM`);
      const keys = await timer.step('keys_generate', () => {
        const generated = key === undefined ? generateEd25519(`breakfix-${environment.id}`) : undefined;
        return {
          generated,
          learnerKey: key ?? parsePublicKey(generated?.publicKey ?? ''),
          // This claim's lab key: on every node beside the learner's key, its private half on the
          // control plane, so the learner can `ssh w1` from there (placeLabKey says why).
          labKey: generateEd25519(`breakfix-${environment.id}-lab`),
          // The browser terminal's own key, on the control plane only: `restrict,pty` allows a login
          // shell and nothing else (no forwarding, no agent), and it goes with the file at release.
          terminalKey: generateEd25519(`breakfix-${environment.id}-terminal`),
        };
      });
      const { generated, learnerKey, labKey, terminalKey } = keys;

      const labKeyLine = parsePublicKey(labKey.publicKey).line;
      const terminalLine = `restrict,pty ${parsePublicKey(terminalKey.publicKey).line}`;
      const setup = Object.fromEntries(
        Object.keys(lab.nodes).map((name) => [
          name,
          keysCommand(name === 'cp' ? [learnerKey.line, labKeyLine, terminalLine] : [learnerKey.line, labKeyLine]),
        ]),
      );

      // The port and the nodes are prepared side by side: neither needs the other, and the
      // learner hears of the lab only once both are done (the port is useless without the key,
      // and nobody knows it yet). The port is ready once its Service has an endpoint on the node
      // handed out: before that, kube-proxy has nothing to forward to.
      const exposing = async () => {
        const ref = { labId: environment.id, namespace: environment.namespace };
        const { nodePort } = await openSsh(
          exposure,
          { ...ref, labels: labLabels(environment.id, platform) },
          timer.step,
        );
        await timer.step('endpoint_ready', () => waitForSshEndpoint(kube, ref, lab.where.cp?.nodeName, timeoutMs));
        return nodePort;
      };
      const preparing = async () => {
        const prepare = request.prepare;
        const setupInPrepare = prepare !== undefined && request.prepareRunsSetup === true;
        if (!setupInPrepare)
          await Promise.all(
            Object.entries(setup).map(([name, command]) =>
              timer.step('key_install', () => installKeys(lab.nodes[name] as SshTarget, command), name),
            ),
          );
        if (prepare !== undefined) {
          const { where: _where, ...targets } = lab;
          await timer.step('prepare', () => prepare({ ...targets, setup }));
        }
        // Only a lab with other nodes needs the lab key: it is how the learner hops to them.
        if (Object.keys(lab.nodes).length > 1) await timer.step('lab_key', () => placeLabKey(environment, cp, labKey));
      };
      const [exposed, prepared] = await Promise.allSettled([exposing(), preparing()]);
      if (exposed.status === 'rejected') throw exposed.reason;
      if (prepared.status === 'rejected') throw prepared.reason;
      const nodePort = exposed.value;

      const { host, port } = await timer.step('connection_address', () => endpoint(lab, nodePort));
      const hostPattern = port === 22 ? host : `[${host}]:${port}`;
      const hostKey = (environment.hostKeys?.cp ?? '').split(/\s+/).slice(0, 2).join(' ');
      const access: LabAccessDetails = {
        host,
        port,
        user: learnerUser,
        knownHosts: `${hostPattern} ${hostKey}`,
        nodePort,
        learnerKeyFingerprint: learnerKey.fingerprint,
        terminalKey: sealSecret(sealingKey, terminalKey.privateKey, environment.id),
      };
      const recorded = await timer.step('record', () => store.recordAccess(environment.id, access));
      const { terminalKey: _sealed, ...shown } = access;
      const identity = generated === undefined ? '' : `-i breakfix-${environment.id}.key `;
      return {
        environment: recorded,
        connection: {
          ...shown,
          command: `ssh ${identity}-o StrictHostKeyChecking=yes -o UserKnownHostsFile=breakfix-${environment.id}.known_hosts ${port === 22 ? '' : `-p ${port} `}${learnerUser}@${host}`,
          ...(generated === undefined ? {} : { privateKey: generated.privateKey }),
        },
      };
    } catch (error) {
      log(`${environment.id}: claim by ${request.learner} failed while preparing: ${(error as Error).message}`);
      await timer
        .step('release_after_failure', () => release(environment.id))
        .catch((cause: unknown) =>
          log(`${environment.id}: release after a failed claim failed too: ${(cause as Error).message}`),
        );
      if (error instanceof BreakfixError && error.code === 'invalid_input') throw error;
      throw new ClaimPreparationError(environment.id, error);
    }
  }

  /**
   * How the browser terminal logs in to a claimed lab: the learner's account on the control plane,
   * with this claim's terminal key (never the learner's own key), and the pinned host key.
   */
  async function terminalTarget(environment: Environment): Promise<SshTarget> {
    const sealed = environment.access?.terminalKey;
    if (environment.state !== 'claimed' || sealed === undefined) {
      throw new ConflictError(`lab ${environment.id} has no browser terminal access`, {
        hint: 'labs claimed before browser terminals existed have none: release it and claim again',
      });
    }
    const cp = (await targets(environment)).nodes.cp;
    if (cp === undefined) throw new UpstreamError(`lab ${environment.id} has no control-plane VM`);
    return { ...cp, username: learnerUser, privateKey: openSecret(sealingKey, sealed, environment.id) };
  }

  return {
    claim,
    release,
    terminalTarget,
    targets: async (env: Environment): Promise<LabTargets> => await targets(env),
  };
}

export type LabAccess = ReturnType<typeof createLabAccess>;
