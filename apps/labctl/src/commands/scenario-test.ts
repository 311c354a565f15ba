import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { InvalidInputError, NotFoundError, UnsupportedEnvironmentError } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import {
  type LabSpec,
  labNodes,
  type PlatformConfig,
  parseLabSpec,
  parsePlatformConfig,
  type SizeProfileName,
} from '@breakfix/manifests';
import { createProvisioner, EnvironmentStore, waitForNodes } from '@breakfix/pool';
import { ANNOTATION_BACKEND, annotateVms, emulatedBootstrap, nodeImageResolver } from '@breakfix/sandbox';
import { createScenarioRunner, type LabTargets, type Scenario, type SelfTestStep, selfTest } from '@breakfix/scenarios';
import { createOperatorKey, type SshKeyPair } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { Redis } from 'ioredis';
import { parse } from 'yaml';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Where `labctl scenario test` provisions its lab, and how it logs in. In the sandbox, a
 * simulator-only scenario gets simulated guests; every other scenario gets real ones: QEMU guests
 * booted from the golden image by the platform's own cloud-init, exactly as `npm run e2e` boots them.
 */
interface Target {
  name: string;
  kubeconfig: string;
  redisUrl: string;
  platform: PlatformConfig;
  operatorKey: SshKeyPair;
  kind: 'cluster' | 'sandbox';
}

/** How long a real guest may take to become a ready lab: emulated (TCG) guests take many minutes. */
const REAL_GUEST_MINUTES = Number(process.env.BREAKFIX_REAL_LAB_TIMEOUT_MINUTES ?? 75);
/** How long a lab may take to be healthy again after a solve before a fresh one boots, and how often it is asked. */
const HEALTH_WINDOW_MS = 300_000;
const HEALTH_INTERVAL_MS = 15_000;

export interface ScenarioTestFlags {
  sandbox?: string | undefined;
  kubeconfig?: string | undefined;
  redisUrl?: string | undefined;
  platform?: string | undefined;
  operatorKey?: string | undefined;
  k8s?: string | undefined;
  keep?: boolean | undefined;
}

/**
 * A real cluster when a kubeconfig is named (flag or BREAKFIX_KUBECONFIG), else the sandbox that
 * `npm run sandbox` described in .breakfix/sandbox.json.
 */
export function resolveTarget(flags: ScenarioTestFlags, env: NodeJS.ProcessEnv = process.env): Target {
  const kubeconfig = flags.kubeconfig ?? env.BREAKFIX_KUBECONFIG;
  if (kubeconfig !== undefined && kubeconfig !== '') {
    const redisUrl = flags.redisUrl ?? env.BREAKFIX_REDIS_URL;
    const platformFile = flags.platform ?? env.BREAKFIX_PLATFORM_CONFIG;
    const keyFile = flags.operatorKey ?? env.BREAKFIX_OPERATOR_KEY;
    if (redisUrl === undefined || platformFile === undefined || keyFile === undefined) {
      throw new InvalidInputError(
        'against a real cluster, --redis-url, --platform and --operator-key are required with --kubeconfig',
        {
          hint: 'or BREAKFIX_REDIS_URL, BREAKFIX_PLATFORM_CONFIG, BREAKFIX_OPERATOR_KEY; see docs/instructor-guide.md',
        },
      );
    }
    const platform = parsePlatformConfig(parse(readFileSync(platformFile, 'utf8')));
    const operatorKey = { privateKey: readFileSync(keyFile, 'utf8'), publicKey: platform.operator.publicKey };
    return { name: `the cluster of ${kubeconfig}`, kubeconfig, redisUrl, platform, operatorKey, kind: 'cluster' };
  }
  const file =
    flags.sandbox ??
    env.BREAKFIX_SANDBOX_FILE ??
    [join(process.cwd(), '.breakfix/sandbox.json'), join(REPO_ROOT, '.breakfix/sandbox.json')].find((f) =>
      existsSync(f),
    );
  if (file === undefined || !existsSync(file)) {
    throw new NotFoundError('no sandbox found (.breakfix/sandbox.json) and no --kubeconfig given', {
      hint: 'start one with `npm run sandbox` in another terminal, or test against a real cluster with --kubeconfig',
    });
  }
  const info = JSON.parse(readFileSync(file, 'utf8')) as { kubeconfig: string; redisUrl: string; dir?: string };
  // A fresh operator key per run: the sandbox's guests trust whatever the lab's cloud-init says.
  const operatorKey = createOperatorKey();
  // Kept beside the sandbox, so a slow or stuck real guest can be looked into while the run goes on
  // (ssh -i <key> breakfix@<the VMI's address>); the sandbox's folder goes away with it.
  const keyFile = join(info.dir ?? dirname(resolve(file)), `operator-${process.pid}.key`);
  writeFileSync(keyFile, operatorKey.privateKey, { mode: 0o600 });
  process.stderr.write(`operator key of this run (for ssh into its guests): ${keyFile}\n`);
  const platform = parsePlatformConfig({
    operator: { publicKey: operatorKey.publicKey },
    // a real guest's bootstrap decides for itself when it has failed
    bootstrapTimeoutSeconds: REAL_GUEST_MINUTES * 60,
  });
  return {
    name: `the sandbox (${resolve(file)})`,
    kubeconfig: info.kubeconfig,
    redisUrl: info.redisUrl,
    platform,
    operatorKey,
    kind: 'sandbox',
  };
}

/**
 * Reads a guest's memory after a scenario: `memory <total> <used> <cache>` (MiB, from `free -m`),
 * then what the kernel killed because the guest ran out of memory, one `Killed process <pid>
 * (<name>)` a line: the line after each `oom-kill:constraint=CONSTRAINT_NONE` (a global OOM; a pod
 * over its own limit logs CONSTRAINT_MEMCG instead). Exits 3 when the kernel log cannot be read,
 * so that an unreadable log never passes for a clean one.
 */
export const GUEST_MEMORY = [
  "log=$(sudo -n dmesg) || { echo 'cannot read the kernel log (sudo -n dmesg)' >&2; exit 3; }",
  'free -m | awk \'/^Mem:/ { print "memory", $2, $3, $6 }\'',
  "printf '%s\\n' \"$log\" | grep -A1 'oom-kill:constraint=CONSTRAINT_NONE' | grep -o 'Killed process [0-9]* ([^)]*)' || true",
].join('\n');

export interface GuestMemory {
  totalMiB: number;
  usedMiB: number;
  cacheMiB: number;
}

/** What GUEST_MEMORY printed: the guest's memory, and what a global OOM killed (empty when nothing). */
export function parseGuestMemory(stdout: string): { memory?: GuestMemory; killed: string[] } {
  const lines = stdout.split('\n').map((line) => line.trim());
  const figures = /^memory (\d+) (\d+) (\d+)$/.exec(lines.find((line) => line.startsWith('memory ')) ?? '');
  return {
    ...(figures === null
      ? {}
      : { memory: { totalMiB: Number(figures[1]), usedMiB: Number(figures[2]), cacheMiB: Number(figures[3]) } }),
    killed: lines.filter((line) => line.startsWith('Killed process ')),
  };
}

/**
 * What runs a lab's nodes in the sandbox: `vm` QEMU guests (what learners get), `container` container
 * nodes of the same image on the host's kernel (docs/adr/0037), `auto` container nodes except for a
 * scenario that needs VMs (`nodes: vm`: it needs a kernel of the node's own).
 */
export type NodeChoice = 'vm' | 'container' | 'auto';

/** What ran one scenario's nodes: `vm` (a QEMU guest, or a real cluster's VM), `container`, `simulated`. */
export type NodeKind = 'vm' | 'container' | 'simulated';

/** One scenario on one release: what `--json` prints, one line each. */
export interface ScenarioRun {
  scenario: string;
  version: string;
  /** What ran the lab's nodes. */
  nodes: NodeKind;
  ok: boolean;
  labId?: string;
  /** The lab was left verified healthy by the previous scenario's solve, and reused. */
  reusedLab: boolean;
  /** Seconds per phase: provision (absent when reused), break, break again, check fails, decoy, solve, check passes. */
  seconds: Record<string, number>;
  /** Why it did not get to a verdict (a lab that never became ready, a deadline, a lost connection). */
  error?: string;
  /** Each real guest's memory after the scenario (`free -m`), by node. */
  memory?: Record<string, GuestMemory>;
}

export interface ScenarioTestOptions {
  /** A release (`1.35`), `all` of each scenario's releases, or undefined for each one's newest. */
  k8s?: string | undefined;
  /** The labs' VM size profile (SIZE_PROFILES). Default: a lab spec's default, `medium`. */
  size?: SizeProfileName | undefined;
  /** In the sandbox, what runs the nodes of a scenario that is not simulator-only. Default `vm`. */
  nodes?: NodeChoice | undefined;
  keep?: boolean | undefined;
  out: (line: string) => void;
  /** Hears what is going on now (booting a lab, a phase of a scenario), for a status line. */
  status?: (label: string) => void;
  /** Hears each scenario × release as soon as it is done. */
  onRun?: (run: ScenarioRun) => void;
  /**
   * Stops the run (Ctrl-C, SIGTERM): every lab it booted or is booting is torn down (kept with
   * `keep`), and the run rejects with `ScenarioTestInterrupted`. Without it, an interrupted run
   * would leave real guests running in the sandbox.
   */
  signal?: AbortSignal | undefined;
}

/** What tears a lab down, and where it lives (for `keep`). */
interface LabOwner {
  teardown(id: string): Promise<void>;
  namespace: string;
}

/** The run was stopped through its signal; its labs were torn down (or kept). */
export class ScenarioTestInterrupted extends Error {
  constructor() {
    super('scenario test interrupted');
    this.name = 'ScenarioTestInterrupted';
  }
}

interface Planned {
  scenario: Scenario;
  version: string;
  spec: Omit<LabSpec, 'labId'>;
  nodes: NodeKind;
}

/**
 * Proves each scenario on a lab of its release and shape: break -> break again -> check fails ->
 * decoys -> solve -> check passes (`selfTest`). Labs of one shape are shared, one after another:
 * the next scenario gets the lab only when the previous one's solve passed its check and every
 * node is Ready again; otherwise the lab is torn down and a fresh one boots. One lab at a time
 * (real guests under emulation take both cores). Refuses up front, before anything boots, a
 * release a scenario does not declare or a real guest whose golden image is not built.
 */
export async function testScenarios(
  scenarios: readonly Scenario[],
  target: Target,
  options: ScenarioTestOptions,
): Promise<ScenarioRun[]> {
  const { out } = options;
  const status = options.status ?? (() => {});
  const planned = plan(scenarios, target, options);
  const kube = createKube({ kubeconfig: target.kubeconfig });
  const redis = new Redis(target.redisUrl, { maxRetriesPerRequest: 1 });
  const store = new EnvironmentStore({ redis, prefix: 'breakfix-scenario-test:' });
  const runs: ScenarioRun[] = [];
  // Every lab booted or booting and not yet dropped, with what tears it down.
  const live = new Map<string, LabOwner>();
  const release = async (id: string, { teardown, namespace }: LabOwner) => {
    live.delete(id);
    if (options.keep) out(`kept lab ${id} (namespace ${namespace})`);
    else {
      status(`tearing down lab ${id}`);
      await teardown(id).catch((error: unknown) => out(`teardown of ${id} failed: ${(error as Error).message}`));
      out(`tore down lab ${id}`);
    }
  };
  const interrupted = new Promise<never>((_, reject) => {
    if (options.signal?.aborted) reject(new ScenarioTestInterrupted());
    options.signal?.addEventListener('abort', () => reject(new ScenarioTestInterrupted()), { once: true });
  });
  interrupted.catch(() => undefined); // observed below; never an unhandled rejection
  const working = work();
  try {
    await Promise.race([working, interrupted]);
  } catch (error) {
    if (error instanceof ScenarioTestInterrupted) {
      // A boot in flight stops at its next step (and fails its own lab); a script running over
      // SSH cannot be stopped, so the wait for it is bounded. Then whatever is left goes.
      await Promise.race([working.catch(() => undefined), sleep(60_000)]);
      for (const [id, owner] of [...live]) await release(id, owner);
    }
    throw error;
  } finally {
    redis.disconnect();
  }
  return runs;

  async function work(): Promise<void> {
    for (const group of groupByLab(planned)) {
      const nodes = group[0]?.nodes ?? 'vm';
      const harness = createHarness(target, { kube, store, nodes, out, status });
      const ownerOf = (id: string): LabOwner => ({
        teardown: (labId) => harness.provisioner.teardown(labId),
        namespace: harness.provisioner.namespaceFor(id),
      });
      let lab: { id: string; targets: LabTargets } | undefined;
      const drop = async () => {
        if (lab === undefined) return;
        const { id } = lab;
        lab = undefined;
        const owner = live.get(id);
        if (owner !== undefined) await release(id, owner);
      };
      try {
        for (const item of group) {
          if (options.signal?.aborted) return;
          const run: ScenarioRun = {
            scenario: item.scenario.id,
            version: item.version,
            nodes,
            ok: false,
            reusedLab: lab !== undefined,
            seconds: {},
          };
          out(`scenario ${item.scenario.id} (Kubernetes ${item.version}, ${NODE_WORDS[nodes]}) on ${target.name}`);
          try {
            if (lab === undefined) {
              const started = Date.now();
              let booting = '';
              lab = await harness
                .boot(
                  item.spec,
                  (id) => {
                    booting = id;
                    live.set(id, ownerOf(id));
                  },
                  options.signal,
                )
                .catch((error: unknown) => {
                  live.delete(booting); // a boot that fails tears its own lab down
                  throw error;
                });
              run.seconds.provision = (Date.now() - started) / 1000;
              out(`lab ${lab.id} ready in ${seconds(Date.now() - started)}`);
            } else out(`reusing lab ${lab.id}: the previous scenario left it solved and every node Ready`);
            run.labId = lab.id;
            const phases = phasesOf(item.scenario);
            status(`${item.scenario.id}: ${phases.shift()}`);
            const report = await selfTest(harness.runner, item.scenario, lab.targets, (step) => {
              out(formatStep(step));
              run.seconds[step.name] = (run.seconds[step.name] ?? 0) + step.durationMs / 1000;
              status(`${item.scenario.id}: ${phases.shift() ?? 'checking the lab is healthy'}`);
            });
            run.ok = report.ok;
            // A guest that ran out of memory passes nothing: its size profile is too small.
            const memory = await harness.guestMemory(lab.targets);
            if (memory !== undefined) {
              run.memory = memory.byNode;
              out(
                `guest memory: ${Object.entries(memory.byNode)
                  .map(([node, m]) => `${node} ${m.usedMiB} MiB used + ${m.cacheMiB} cache of ${m.totalMiB}`)
                  .join(', ')}`,
              );
              if (memory.problem !== undefined) {
                run.ok = false;
                run.error = memory.problem;
                out(`FAIL memory: ${memory.problem}`);
              }
            }
            const healthy = run.ok && (await harness.healthy(lab.targets, item.spec));
            if (!healthy) await drop();
          } catch (error) {
            run.error = (error as Error).message;
            out(`ERROR ${item.scenario.id}: ${run.error}`);
            await drop();
          }
          out(run.ok ? `PASS ${item.scenario.id}` : `FAIL ${item.scenario.id}`);
          runs.push(run);
          options.onRun?.(run);
        }
      } finally {
        await drop();
      }
    }
  }
}

/** The phases of selfTest in the order it runs them, to say which one is running. */
function phasesOf(scenario: Scenario): string[] {
  return [
    'break',
    'break again',
    'check fails',
    ...scenario.decoys.map((d) => `decoy ${d.file}`),
    'solve',
    'check passes',
  ];
}

const NODE_WORDS: Record<NodeKind, string> = {
  vm: 'VM nodes',
  container: 'container nodes',
  simulated: 'simulated nodes',
};

/** What runs a scenario's nodes on this target with this choice; refused when it cannot hold the fault. */
export function nodesFor(scenario: Scenario, target: Pick<Target, 'kind'>, choice: NodeChoice = 'vm'): NodeKind {
  if (target.kind === 'cluster') return 'vm';
  if (scenario.simulator) return 'simulated';
  if (choice === 'vm') return 'vm';
  if (scenario.nodes === 'vm') {
    if (choice === 'auto') return 'vm';
    throw new InvalidInputError(
      `${scenario.id} needs VM nodes (nodes: vm): it needs a kernel of the node's own (swap, modules, kernel-wide sysctls, NetworkPolicy enforcement), and a container node has the host's`,
      { hint: 'test it with --nodes vm, or --nodes auto to give it VMs and the rest container nodes' },
    );
  }
  return 'container';
}

/** Each scenario's releases to test, refused before anything boots when one cannot run. */
function plan(scenarios: readonly Scenario[], target: Target, options: ScenarioTestOptions): Planned[] {
  const { k8s, size } = options;
  const planned: Planned[] = [];
  for (const scenario of scenarios) {
    const wanted =
      k8s === 'all' ? scenario.kubernetesVersions : [k8s?.replace(/^v/, '') ?? scenario.kubernetesVersions.at(-1)];
    for (const version of wanted) {
      if (version === undefined || !scenario.kubernetesVersions.includes(version))
        throw new InvalidInputError(
          `${scenario.id} supports ${scenario.kubernetesVersions.join(', ')}, not ${version}`,
          {
            hint: 'leave out --k8s for its newest release, or --k8s all for every one it declares',
          },
        );
      const { labId: _, ...spec } = parseLabSpec({
        labId: 'planned',
        kubernetesVersion: version,
        workers: scenario.topology.workers,
        cni: scenario.cni,
        egress: scenario.egress,
        ...(size === undefined ? {} : { size }),
      });
      const nodes = nodesFor(scenario, target, options.nodes);
      if (target.kind === 'sandbox' && nodes !== 'simulated') {
        // Say now, not after a long wait for a VM that cannot start, that the image is missing.
        const image = nodeImageResolver()(`${target.platform.imageRepository}:${spec.release.imageTag}`);
        if ('missing' in image)
          throw new UnsupportedEnvironmentError(
            `${scenario.id} needs a real Kubernetes ${spec.release.minor} node: ${image.missing}`,
            {
              hint: `build the image, or pick a release that has one with --k8s (${scenario.kubernetesVersions.join(', ')})`,
            },
          );
      }
      planned.push({ scenario, version, spec, nodes });
    }
  }
  return planned;
}

/** Scenarios that can share a lab, in catalog order: same nodes, release, topology, CNI and egress. */
function groupByLab(planned: Planned[]): Planned[][] {
  const groups = new Map<string, Planned[]>();
  for (const item of planned) {
    const key = JSON.stringify([item.nodes, item.version, item.spec.workers, item.spec.cni, item.spec.egress]);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return [...groups.values()];
}

/** The provisioner, scenario runner and health check for one kind of guest. */
function createHarness(
  target: Target,
  context: {
    kube: ReturnType<typeof createKube>;
    store: EnvironmentStore;
    nodes: NodeKind;
    out: (line: string) => void;
    status: (label: string) => void;
  },
) {
  const { kube, store, nodes, out, status } = context;
  const simulated = target.kind === 'sandbox' && nodes === 'simulated';
  // Real guests of the sandbox: QEMU guests or container nodes.
  const real = target.kind === 'sandbox' && !simulated;
  const realMs = REAL_GUEST_MINUTES * 60_000;
  // Under emulation a busy guest takes far longer than the default 10 s for SSH's key exchange.
  const ssh = createSshRunner(real ? { connectTimeoutMs: 120_000 } : {});
  const provisioner = createProvisioner({
    kube,
    store,
    ssh,
    platform: target.platform,
    operatorKey: target.operatorKey,
    ...(simulated
      ? { vmsRunningTimeoutMs: 60_000, readyTimeoutMs: 60_000, probeIntervalMs: 200, decorate: emulatedBootstrap }
      : {}),
    ...(real
      ? {
          vmsRunningTimeoutMs: realMs,
          readyTimeoutMs: realMs,
          probeIntervalMs: 10_000,
          decorate: annotateVms({ [ANNOTATION_BACKEND]: nodes === 'container' ? 'container' : 'qemu' }),
          log: (line: string) => out(`  ${line}`),
        }
      : {}),
  });
  const runner = createScenarioRunner({
    ssh,
    // Simulated guests have no root: their sudo runs as the operator, who cannot write /var/lib.
    ...(simulated ? { stateDir: '/tmp/breakfix-scenario-state' } : {}),
    // An emulated guest runs kubectl and systemctl many times slower than a learner's lab on KVM.
    // Scripts see their deadline (BREAKFIX_TIMEOUT_SECONDS) and time their waits from it.
    ...(real
      ? { breakTimeoutMs: 600_000, checkTimeoutMs: 180_000, solveTimeoutMs: 900_000, decoyTimeoutMs: 600_000 }
      : {}),
  });
  return {
    provisioner,
    runner,
    /** Boots a lab; `started` hears its id before anything is created, so it can be torn down. */
    async boot(
      spec: Omit<LabSpec, 'labId'>,
      started: (id: string) => void = () => {},
      signal?: AbortSignal,
    ): Promise<{ id: string; targets: LabTargets }> {
      const id = `st-${randomBytes(4).toString('hex')}`;
      const labSpec = { ...spec, labId: id };
      started(id);
      const how = !real ? '' : nodes === 'container' ? 'container nodes' : 'real guests under QEMU';
      out(
        `provisioning lab ${id} (Kubernetes ${spec.release.minor}, ${spec.workers} worker(s)${
          !real
            ? ''
            : nodes === 'container'
              ? ', container nodes: a minute or two'
              : ', real guests under QEMU: minutes, not seconds'
        })...`,
      );
      status(`provisioning lab ${id}${how === '' ? '' : ` (${how})`}`);
      try {
        const outcome = await provisioner.provision({ id, pool: 'scenario-test', spec: labSpec, signal });
        if (outcome !== 'ready') throw new InvalidInputError(`lab ${id} did not become ready (${outcome})`);
        return {
          id,
          targets: await labTargets(id, target, kube, store, provisioner.namespaceFor(id), labNodes(labSpec)),
        };
      } catch (error) {
        await provisioner
          .teardown(id)
          .then(() => out(`tore down lab ${id}`))
          .catch((teardownError: unknown) => out(`teardown of ${id} failed: ${(teardownError as Error).message}`));
        throw error;
      }
    },
    /**
     * Each guest's memory after a scenario, and a problem when a guest's kernel ran out of memory
     * (a global OOM kill: the guest itself was full, not a pod over its own limit, which a
     * scenario may mean to cause) or its kernel log could not be read. Undefined for simulated
     * guests and container nodes, which have no kernel of their own (`free` and the kernel log
     * there are the host's).
     */
    async guestMemory(lab: LabTargets): Promise<{ byNode: Record<string, GuestMemory>; problem?: string } | undefined> {
      if (simulated || nodes === 'container') return undefined;
      const byNode: Record<string, GuestMemory> = {};
      const problems: string[] = [];
      for (const [node, sshTarget] of Object.entries(lab.nodes)) {
        const result = await ssh.exec(sshTarget, GUEST_MEMORY, { timeoutMs: 60_000 });
        if (result.code !== 0) {
          problems.push(`${node}: ${result.stderr.trim() || `exit ${result.code}`}`);
          continue;
        }
        const { memory, killed } = parseGuestMemory(result.stdout);
        if (memory !== undefined) byNode[node] = memory;
        if (killed.length > 0) problems.push(`${node} ran out of memory: ${killed.join(', ')}`);
      }
      return problems.length === 0
        ? { byNode }
        : {
            byNode,
            problem: `guest memory (${problems.join('; ')}): a killed guest means the size profile is too small`,
          };
    },
    /**
     * Every node Ready and the apiserver ready: fit to hand to the next scenario. Asked every 15 s
     * for up to 5 minutes: after a solve restarts a control-plane component, an emulated
     * control plane can spend minutes catching up (etcd readiness failing, nodes NotReady while
     * their leases are renewed), and booting a fresh lab instead costs 10 to 30 minutes.
     */
    async healthy(lab: LabTargets, spec: Omit<LabSpec, 'labId'>): Promise<boolean> {
      if (simulated) return true; // simulated nodes have no cluster to check
      const cp = lab.nodes.cp;
      if (cp === undefined) return false;
      const expected = spec.workers + 1;
      const deadline = Date.now() + HEALTH_WINDOW_MS;
      let why = '';
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await ssh.exec(
            cp,
            'kubectl --request-timeout=30s get --raw /readyz >/dev/null && kubectl --request-timeout=30s get nodes --no-headers',
            { timeoutMs: 120_000 },
          );
          const ready = result.stdout.split('\n').filter((line) => /^\S+\s+Ready\s/.test(line)).length;
          if (result.code === 0 && ready === expected) {
            if (attempt > 1) out(`the lab is healthy again after ${attempt} checks`);
            return true;
          }
          why = `${ready} of ${expected} nodes Ready, exit ${result.code}${result.stderr.trim() === '' ? '' : `: ${result.stderr.trim().slice(0, 200)}`}`;
        } catch (error) {
          why = (error as Error).message;
        }
        if (Date.now() + HEALTH_INTERVAL_MS > deadline) break;
        if (attempt === 1) out(`the lab is not healthy yet after solve (${why}): asking again for up to 5 minutes`);
        await sleep(HEALTH_INTERVAL_MS);
      }
      out(`the lab is not healthy after solve (${why}): a fresh one boots next`);
      return false;
    },
  };
}

async function labTargets(
  labId: string,
  target: Target,
  kube: ReturnType<typeof createKube>,
  store: EnvironmentStore,
  namespace: string,
  nodes: { name: string }[],
): Promise<LabTargets> {
  const hostKeys = (await store.get(labId)).hostKeys ?? {};
  const running = await waitForNodes(
    kube,
    namespace,
    nodes.map((n) => n.name),
    { what: `the VMs of lab ${labId} to run with an address`, timeoutMs: 60_000 },
  );
  const targets: LabTargets['nodes'] = {};
  for (const { name } of nodes) {
    const host = running[name]?.address;
    const hostKey = hostKeys[name];
    if (host === undefined || hostKey === undefined)
      throw new InvalidInputError(`lab ${labId}: node ${name} has no address or host key`);
    targets[name] = {
      host,
      username: target.platform.operator.user,
      privateKey: target.operatorKey.privateKey,
      hostKey,
    };
  }
  return { labId, nodes: targets };
}

function formatStep(step: SelfTestStep): string {
  const head = `${step.ok ? 'ok  ' : 'FAIL'} ${step.name} (${seconds(step.durationMs)})`;
  return [head, ...step.detail.map((line) => `       ${line}`)].join('\n');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
