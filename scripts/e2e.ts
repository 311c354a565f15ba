/**
 * `npm run e2e`: real labs, booted here. The sandbox runs every VM under QEMU from the golden
 * image (images/build.sh), and the platform's own pool worker and provisioner boot, from
 * `renderLab` output, a 1-node lab, a 1+1 lab, a lab whose bootstrap cannot succeed (its
 * kubeadm config carries a malformed bootstrap token, so `kubeadm init` refuses it) and a 1-node
 * lab whose guest is hard-reset (sysrq `b`: no sync, as a crash) right after `kubeadm init`, which
 * must finish its bootstrap on the next boot (cloud-init/src/scripts.ts). A lab counts as ready only when the
 * bootstrap's own marker is there (written after every node was Ready, CoreDNS answered a pod and
 * pods reached pods on every node) and this script sees every node Ready itself. Then each ready
 * lab is claimed with `labctl claim --json` and, as the learner, `kubectl get nodes` runs over
 * OpenSSH with StrictHostKeyChecking=yes. Prints a phase breakdown per lab, bench JSON lines
 * (`{"bench":"real-lab",...}`), a line on the lab that must fail, and ends with
 * `real labs: N ready, M failed` (M: labs that did not do what they must).
 *
 *   npm run e2e [-- --only 1node|2node|broken|restart] [--k8s 1.35] [--keep]
 *   --k8s   the labs' Kubernetes release (default: the newest); its golden image is built first
 *   BREAKFIX_E2E_TIMEOUT_MINUTES   how long the labs may take (default 75)
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { KubeObject } from '@breakfix/kube';
import {
  DEFAULT_KUBERNETES_MINOR,
  findRelease,
  KUBERNETES_RELEASES,
  parsePlatformConfig,
  parsePoolsConfig,
} from '@breakfix/manifests';
import { createProvisioner, EnvironmentStore } from '@breakfix/pool';
import { freePort, nodeImageResolver, resolveBinaries, type Sandbox, startSandbox } from '@breakfix/sandbox';
import { loadCatalog } from '@breakfix/scenarios';
import { createOperatorKey, type SshKeyPair } from '@breakfix/secrets';
import { createSshRunner, type SshRunner, type SshTarget } from '@breakfix/ssh';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { wireOrchestrator } from '../apps/orchestrator/src/wire.js';
import { createPoolWorker } from '../apps/pool-worker/src/create-pool-worker.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    k8s: { type: 'string', default: DEFAULT_KUBERNETES_MINOR },
    keep: { type: 'boolean', default: false },
  },
});
const release =
  findRelease(values.k8s) ??
  (() => {
    console.error(
      `e2e: --k8s ${values.k8s} is not a supported release (${KUBERNETES_RELEASES.map((r) => r.minor).join(', ')})`,
    );
    return process.exit(2);
  })();
const timeoutMs = Number(process.env.BREAKFIX_E2E_TIMEOUT_MINUTES ?? 75) * 60_000;
const say = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

/**
 * The labs to boot: three that must become ready (one of them after a hard reset once `kubeadm
 * init` is done), one that must fail with its reason. A learner claims the first two.
 */
const LABS: readonly LabPlan[] = [
  { pool: 'e2e-1node', key: '1node', workers: 0, scenario: 'e2e-smoke-1node', expect: 'ready' },
  { pool: 'e2e-2node', key: '2node', workers: 1, scenario: 'e2e-smoke-2node', expect: 'ready' },
  { pool: 'e2e-broken', key: 'broken', workers: 0, expect: 'failed' },
  { pool: 'e2e-restart', key: 'restart', workers: 0, expect: 'ready', resetAfter: 'kubeadm init done' },
];
/** Rounds of labs booted together, so that emulated guests do not starve each other on 2 cores. */
const ROUNDS = [['e2e-1node', 'e2e-broken'], ['e2e-2node'], ['e2e-restart']];
interface LabPlan {
  pool: string;
  key: string;
  workers: number;
  /** The scenario a learner claims on this lab once it is ready (none: no claim). */
  scenario?: string;
  expect: 'ready' | 'failed';
  /** Hard-reset the control plane's guest once its bootstrap log has a line with this text. */
  resetAfter?: string;
}

/**
 * Bootstrap log lines that mark a phase (cloud-init/src/scripts.ts), in the order they happen; a
 * phase is timed by its last line (a resumed bootstrap logs `kubeadm init done` twice).
 */
const GUEST_PHASES = [
  ['bootstrap resumed', /cut short by a restart/],
  ['kubeadm init done', /kubeadm init done/],
  ['CNI applied', /applying \S+ for pod subnet/],
  ['all nodes Ready', /\] nodes Ready/],
  ['system pods Ready', /system pods Ready/],
  ['network probe passed', /network probe passed/],
  ['ready marker', /\] ready$/],
] as const;

interface LabTimes {
  id: string;
  plan: LabPlan;
  enqueuedAt: number;
  qemuStartedAt?: number;
  leasedAt?: number;
  sshAt?: number;
  /** When the guest was hard-reset (plans with `resetAfter`). */
  resetAt?: number;
  readyAt?: number;
  failedAt?: number;
  failure?: string;
  guest: Record<string, number>;
  /** Per node, once ready: what its kubelet counts as in use, and what the guest has left. */
  memory?: Record<string, NodeMemory>;
}

interface NodeMemory {
  workingSetMiB: number;
  availableMiB: number;
}

function step(title: string, command: string, args: string[]): string {
  say(`▶ ${title}`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  process.stdout.write(result.stdout);
  if (result.status !== 0) {
    console.log(`${title} failed\nreal labs: 0 ready, ${LABS.length} failed`);
    process.exit(1);
  }
  say(`  (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return result.stdout;
}

/** The lab whose bootstrap cannot succeed: a bootstrap token kubeadm refuses to parse. */
function breakBootstrapToken(objects: KubeObject[]): KubeObject[] {
  return objects.map((object) => {
    if (object.kind !== 'Secret' || !object.metadata.name.endsWith('-cloud-init')) return object;
    const data = (object as KubeObject & { stringData: { userdata: string } }).stringData;
    const userdata = data.userdata.replace(/token: [a-z0-9]{6}\.[a-z0-9]{16}/g, 'token: not-a-bootstrap-token');
    return { ...object, stringData: { ...data, userdata } } as KubeObject;
  });
}

async function main(): Promise<void> {
  const plans = LABS.filter((lab) => values.only === undefined || values.only.includes(lab.key));
  const started = Date.now();
  step('dependencies (Debian packages, Go-built binaries)', 'bash', ['scripts/ensure-deps.sh']);
  const imageStarted = Date.now();
  const imageOutput = step(`the golden node image (${release.version})`, 'bash', ['images/build.sh', release.version]);
  const image = {
    dir: imageOutput.trim().split('\n').at(-1) ?? '',
    cached: /up to date/.test(imageOutput),
    seconds: (Date.now() - imageStarted) / 1000,
  };

  const binaries = await resolveBinaries({ onProgress: say });
  let accelerator: string | undefined;
  const sandbox = await startSandbox({
    binaries,
    vms: 'qemu',
    resolveImage: nodeImageResolver(),
    keepDir: values.keep,
    onProgress: (line) => {
      accelerator ??= /accelerator (\w+)/.exec(line)?.[1];
      say(`  ${line}`);
    },
  });
  let exitCode = 1;
  try {
    // The accelerator is known once the first guest starts: read it when the report is written.
    exitCode = await runLabs(sandbox, plans, image, started, () => accelerator);
  } finally {
    const pids = (sandbox.simulator?.guests() ?? []).map((guest) => guest.pid);
    await sandbox.stop();
    const left = pids.filter((pid) => isAlive(pid));
    if (left.length > 0) {
      console.log(`QEMU processes outlived the sandbox: ${left.join(', ')}`);
      exitCode = 1;
    }
  }
  process.exit(exitCode);
}

async function runLabs(
  sandbox: Sandbox,
  plans: readonly LabPlan[],
  image: { dir: string; cached: boolean; seconds: number },
  started: number,
  accelerator: () => string | undefined,
): Promise<number> {
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const operatorKey = createOperatorKey();
  if (values.keep) {
    // For looking inside a guest while the run goes on: ssh -i <key> breakfix@<the VMI's SSH address>.
    const keyFile = join(sandbox.dir, 'operator.key');
    writeFileSync(keyFile, operatorKey.privateKey, { mode: 0o600 });
    say(`operator key (--keep): ${keyFile}; each guest's SSH address is in the [virt] lines`);
  }
  // Emulated guests take many minutes: the bootstrap's own deadline decides, not the platform's.
  const platform = parsePlatformConfig({
    operator: { publicKey: operatorKey.publicKey },
    bootstrapTimeoutSeconds: Math.round(timeoutMs / 1000),
  });
  const store = new EnvironmentStore({ redis: connect() });
  // Under emulation a busy guest takes well over the default 10 s for SSH's key exchange.
  const sshOptions = { connectTimeoutMs: 120_000 };
  const ssh = createSshRunner(sshOptions);
  const provisionerOptions = {
    kube: sandbox.kube,
    store,
    ssh,
    platform,
    operatorKey,
    vmsRunningTimeoutMs: timeoutMs,
    readyTimeoutMs: timeoutMs,
    probeIntervalMs: 10_000,
    log: (line: string) => say(`  [provisioner] ${line}`),
  };
  const provisioner = createProvisioner(provisionerOptions);
  const broken = createProvisioner({ ...provisionerOptions, decorate: breakBootstrapToken });
  const pools = parsePoolsConfig({
    pools: plans.map((plan) => ({
      name: plan.pool,
      kubernetesVersion: release.minor,
      workers: plan.workers,
      size: 'medium',
      min: 1,
      max: 1,
      maxConcurrentProvisions: 1,
    })),
  });
  // The platform's own worker, for some of the pools; the broken pool's labs get the token
  // kubeadm refuses.
  const workerFor = (names: readonly string[]) =>
    createPoolWorker({
      connection: connect,
      redis: connect(),
      store,
      provisioner: {
        ...provisioner,
        provision: (request) =>
          request.pool === 'e2e-broken' ? broken.provision(request) : provisioner.provision(request),
      },
      pools: pools.filter((pool) => names.includes(pool.name)),
      kube: sandbox.kube,
      subscriber: connect(),
      // One failure is what the broken pool is for: no second attempt within the run.
      backoff: { baseMs: timeoutMs, maxMs: timeoutMs },
      log: (line) => say(`  [worker] ${line}`),
    });
  const catalog = loadCatalog(join(root, 'scripts/e2e/scenarios'));
  const apiToken = randomBytes(24).toString('hex');
  const orchestrator = wireOrchestrator({
    redisUrl: sandbox.redisUrl,
    kube: sandbox.kube,
    pools,
    platform,
    operatorKey,
    catalog,
    tokens: [{ name: 'admin', role: 'admin', token: apiToken }],
    ssh: sshOptions,
    log: (line) => say(`  [api] ${line}`),
  });
  const port = await freePort();
  const server = serve({ fetch: orchestrator.app.fetch, port, hostname: '127.0.0.1' });
  const api = { BREAKFIX_API_URL: `http://127.0.0.1:${port}`, BREAKFIX_TOKEN: apiToken };

  const labs = new Map<string, LabTimes>();
  const results: { plan: LabPlan; times?: LabTimes; ok: boolean; detail: string }[] = [];
  /** Checks one lab the way its plan says (ready and reachable by the learner, or failed with its reason). */
  const verify = async (plan: LabPlan): Promise<void> => {
    const times = [...labs.values()].find((l) => l.plan === plan);
    if (times === undefined) {
      results.push({ plan, ok: false, detail: 'never enqueued' });
      return;
    }
    if (plan.expect === 'failed') {
      const reported = await poolsReport(api, plan.pool);
      const ok = times.failedAt !== undefined && reported.includes('kubeadm init failed');
      results.push({
        plan,
        times,
        ok,
        detail: ok
          ? `failed as it must; labctl pools says: ${reported}`
          : `expected a failure with its reason in labctl pools (state: ${times.failure ?? 'not failed'}; pools: ${reported})`,
      });
      return;
    }
    if (times.readyAt === undefined) {
      const diagnostics = await guestDiagnostics(ssh, sandbox, store, operatorKey, times.id);
      const why = times.failure ?? 'not ready within the deadline';
      results.push({ plan, times, ok: false, detail: `${why}; the control plane says:\n${diagnostics}` });
      return;
    }
    try {
      await readGuestPhases(ssh, sandbox, store, operatorKey, times);
      if (plan.resetAfter !== undefined) {
        if (times.resetAt === undefined) throw new Error(`the guest was never reset (no "${plan.resetAfter}" seen)`);
        if (times.guest['bootstrap resumed'] === undefined) {
          throw new Error('ready, but its bootstrap log does not say it resumed after the reset');
        }
      }
      if (plan.scenario === undefined) {
        results.push({ plan, times, ok: true, detail: 'ready after a hard reset mid-bootstrap; every node Ready' });
        return;
      }
      const nodes = await learnerSeesNodes(api, plan, times.id, plan.scenario);
      results.push({ plan, times, ok: true, detail: `learner's kubectl get nodes: ${nodes}` });
    } catch (error) {
      results.push({ plan, times, ok: false, detail: (error as Error).message });
    }
  };

  try {
    // The 1-node lab beside the broken one (which fails at kubeadm's config check), then the 1+1
    // lab, then the one that is reset mid-bootstrap.
    for (const round of ROUNDS) {
      const names = plans.map((plan) => plan.pool).filter((name) => round.includes(name));
      if (names.length === 0) continue;
      const worker = workerFor(names);
      try {
        await worker.tick();
        const booting = new Map<string, LabTimes>();
        for (const env of await store.list()) {
          const plan = plans.find((p) => p.pool === env.pool);
          if (plan !== undefined && names.includes(plan.pool) && !labs.has(env.id)) {
            booting.set(env.id, { id: env.id, plan, enqueuedAt: env.createdAt, guest: {} });
          }
        }
        say(
          `booting ${booting.size} real lab(s): ${[...booting.values()].map((l) => `${l.plan.key}=${l.id}`).join(', ')}`,
        );
        await watchLabs(sandbox, store, booting, (id) => controlPlaneTarget(sandbox, store, operatorKey, id), ssh);
        for (const [id, times] of booting) labs.set(id, times);
      } finally {
        await worker.close();
      }
      // Each round's labs are checked, then stopped, so that the next round has the cores.
      for (const plan of plans.filter((p) => names.includes(p.pool))) await verify(plan);
      for (const times of labs.values()) {
        if (!names.includes(times.plan.pool)) continue;
        const env = await store.get(times.id).catch(() => undefined);
        if (env === undefined || env.state === 'deleted') continue;
        await sandbox.kube
          .delete({ apiVersion: 'v1', kind: 'Namespace', name: env.namespace })
          .then(() => say(`${times.plan.key} (${times.id}) checked; its namespace deleted`))
          .catch((error: unknown) => say(`${times.plan.key} (${times.id}): deleting its namespace failed: ${error}`));
      }
    }

    for (const plan of plans) {
      if (!results.some((r) => r.plan === plan)) results.push({ plan, ok: false, detail: 'never enqueued' });
    }
  } finally {
    server.close();
    await orchestrator.close();
    for (const connection of connections) connection.disconnect();
  }

  report(results, image, accelerator(), started);
  // The lab that must fail is reported on its own line; "failed" counts labs that did not do what
  // they must (a lab meant to be ready that was not, or the broken one not failing with its reason).
  const ready = results.filter((r) => r.ok && r.plan.expect === 'ready').length;
  const failed = results.filter((r) => !r.ok).length;
  for (const r of results.filter((r) => r.plan.expect === 'failed')) {
    console.log(`failing-bootstrap lab: ${r.ok ? 'OK' : 'NOT as expected'} — ${r.detail}`);
  }
  console.log(`real labs: ${ready} ready, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

interface Vmi extends KubeObject {
  status?: { phase?: string; interfaces?: { name?: string; ipAddress?: string }[] };
}

/**
 * Polls the labs until each is ready or failed (or the deadline), noting when each phase happened,
 * and hard-resets the guest of a lab whose plan says so once its bootstrap reached that point.
 */
async function watchLabs(
  sandbox: Sandbox,
  store: EnvironmentStore,
  labs: Map<string, LabTimes>,
  target: (id: string) => Promise<SshTarget>,
  ssh: SshRunner,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const sshSeen = new Set<string>();
  let nextResetProbe = 0;
  for (;;) {
    const now = Date.now();
    for (const lab of labs.values()) {
      if (lab.readyAt !== undefined || lab.failedAt !== undefined) continue;
      const env = await store.get(lab.id).catch(() => undefined);
      if (env?.state === 'ready') {
        lab.readyAt = now;
        say(`${lab.plan.key} (${lab.id}) is ready after ${seconds(now - lab.enqueuedAt)} s`);
      } else if (env === undefined || env.state === 'failed' || env.state === 'deleted') {
        lab.failedAt = now;
        lab.failure = `state ${env?.state ?? 'gone'}`;
        say(`${lab.plan.key} (${lab.id}) failed after ${seconds(now - lab.enqueuedAt)} s`);
        continue;
      }
      const namespace = env?.namespace ?? '';
      const vmis = await sandbox.kube.list<Vmi>('kubevirt.io/v1', 'VirtualMachineInstance', { namespace });
      const cp = vmis.find((v) => v.metadata.name === 'cp');
      if (lab.qemuStartedAt === undefined && cp?.status?.phase === 'Running') lab.qemuStartedAt = now;
      const address = cp?.status?.interfaces?.find((i) => i.name === 'default')?.ipAddress;
      if (lab.leasedAt === undefined && address !== undefined && address !== '') lab.leasedAt = now;
      if (address !== undefined && !sshSeen.has(lab.id) && (await sshBanner(address))) {
        sshSeen.add(lab.id);
        lab.sshAt = now;
        say(`${lab.plan.key} (${lab.id}): control plane answers SSH after ${seconds(now - lab.enqueuedAt)} s`);
      }
      // Every 15 s (each SSH session costs an emulated guest seconds of CPU).
      if (
        lab.plan.resetAfter !== undefined &&
        lab.resetAt === undefined &&
        sshSeen.has(lab.id) &&
        now >= nextResetProbe
      ) {
        nextResetProbe = now + 15_000;
        if (await resetGuestAfter(ssh, await target(lab.id), lab.plan.resetAfter)) {
          lab.resetAt = Date.now();
          say(`${lab.plan.key} (${lab.id}): "${lab.plan.resetAfter}" logged; guest hard-reset (sysrq b, no sync)`);
        }
      }
    }
    const pending = [...labs.values()].filter((l) => l.readyAt === undefined && l.failedAt === undefined);
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      for (const lab of pending) lab.failure = `not ready within ${timeoutMs / 60_000} minutes`;
      return;
    }
    await sleep(3_000);
  }
}

/**
 * Once the bootstrap log has a line containing `text`, resets the guest the way a crash does: the
 * kernel reboots at once (sysrq `b`), nothing synced or unmounted. The reset is delayed by a second
 * so the SSH session ends first. True when the reset was triggered.
 */
async function resetGuestAfter(ssh: SshRunner, target: SshTarget, text: string): Promise<boolean> {
  const script = `if sudo grep -qF '${text}' /var/log/breakfix-bootstrap.log 2>/dev/null; then sudo nohup sh -c 'sleep 1; echo b > /proc/sysrq-trigger' >/dev/null 2>&1 & echo reset; fi`;
  const out = await ssh.exec(target, script, { timeoutMs: 60_000 }).catch(() => undefined);
  return out?.stdout.includes('reset') ?? false;
}

/** Whether an SSH server answers with its banner on port 22 of `address`. */
function sshBanner(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 22, timeout: 3_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', (chunk) => done(chunk.toString().startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
    // The loopback forward accepts and then closes while the guest's sshd is not up yet: no
    // data, no error, and no idle timeout on a closed socket.
    socket.once('close', () => done(false));
  });
}

/** Reads the bootstrap's log on the control plane and checks, independently, that every node is Ready. */
async function readGuestPhases(
  ssh: SshRunner,
  sandbox: Sandbox,
  store: EnvironmentStore,
  operatorKey: SshKeyPair,
  times: LabTimes,
): Promise<void> {
  const target = await controlPlaneTarget(sandbox, store, operatorKey, times.id);
  const log = await ssh.exec(target, 'sudo cat /var/log/breakfix-bootstrap.log', { timeoutMs: 60_000 });
  for (const line of log.stdout.split('\n')) {
    const stamp = Date.parse(line.slice(0, 20));
    for (const [name, pattern] of GUEST_PHASES) {
      if (pattern.test(line) && Number.isFinite(stamp)) times.guest[name] = stamp;
    }
  }
  const nodes = await ssh.exec(target, 'kubectl --request-timeout=30s get nodes --no-headers', { timeoutMs: 60_000 });
  const rows = nodes.stdout.trim().split('\n');
  const expected = times.plan.workers + 1;
  if (rows.length !== expected || rows.some((row) => row.split(/\s+/)[1] !== 'Ready')) {
    throw new Error(`expected ${expected} Ready node(s), kubectl says:\n${nodes.stdout}${nodes.stderr}`);
  }
  times.memory = await nodeMemory(
    ssh,
    target,
    rows.map((row) => row.split(/\s+/)[0] ?? ''),
  );
}

/**
 * Each node's memory as its kubelet reports it (the summary API, through the API server): the
 * working set is what eviction and `kubectl top` count; what the guest has left is the headroom
 * a lab size profile is judged by.
 */
async function nodeMemory(ssh: SshRunner, target: SshTarget, nodes: string[]): Promise<Record<string, NodeMemory>> {
  const memory: Record<string, NodeMemory> = {};
  for (const node of nodes) {
    const out = await ssh.exec(
      target,
      `kubectl --request-timeout=30s get --raw /api/v1/nodes/${node}/proxy/stats/summary`,
      {
        timeoutMs: 60_000,
      },
    );
    if (out.code !== 0) throw new Error(`the kubelet summary of ${node}: ${out.stderr.trim()}`);
    const summary = JSON.parse(out.stdout) as { node: { memory: { workingSetBytes: number; availableBytes: number } } };
    const mib = (bytes: number) => Math.round(bytes / 1048576);
    memory[node] = {
      workingSetMiB: mib(summary.node.memory.workingSetBytes),
      availableMiB: mib(summary.node.memory.availableBytes),
    };
  }
  return memory;
}

/** How the operator reaches a lab's control plane over SSH (address from the VMI, host key pinned). */
async function controlPlaneTarget(sandbox: Sandbox, store: EnvironmentStore, operatorKey: SshKeyPair, id: string) {
  const env = await store.get(id);
  const cp = (
    await sandbox.kube.list<Vmi>('kubevirt.io/v1', 'VirtualMachineInstance', { namespace: env.namespace })
  ).find((v) => v.metadata.name === 'cp');
  const host = cp?.status?.interfaces?.find((i) => i.name === 'default')?.ipAddress ?? '';
  return { host, username: 'breakfix', privateKey: operatorKey.privateKey, hostKey: env.hostKeys?.cp ?? '' };
}

/**
 * What the control plane says about itself when a lab did not become ready: the end of the
 * bootstrap log, the containers, kubelet's last words and the guest's load. Best effort: a lab
 * whose guest does not answer says so instead.
 */
async function guestDiagnostics(
  ssh: SshRunner,
  sandbox: Sandbox,
  store: EnvironmentStore,
  operatorKey: SshKeyPair,
  id: string,
): Promise<string> {
  const script = [
    'echo "--- uptime"; uptime; free -m | head -2',
    'echo "--- bootstrap log (last 25 lines)"; sudo tail -n 25 /var/log/breakfix-bootstrap.log',
    'echo "--- containers"; sudo crictl --timeout 20s ps -a 2>&1 | head -30',
    'echo "--- kubelet (last 15 lines)"; sudo journalctl -u kubelet -n 15 --no-pager -o cat 2>&1 | cut -c1-300',
  ].join('; ');
  try {
    const target = await controlPlaneTarget(sandbox, store, operatorKey, id);
    const out = await ssh.exec(target, script, { timeoutMs: 120_000 });
    return `${out.stdout}${out.stderr}`.trimEnd();
  } catch (error) {
    return `(no diagnostics from the guest: ${(error as Error).message})`;
  }
}

/** Claims the lab through labctl as a learner and runs `kubectl get nodes` over OpenSSH, host key pinned. */
async function learnerSeesNodes(
  api: Record<string, string>,
  plan: LabPlan,
  id: string,
  scenario: string,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `breakfix-e2e-${plan.key}-`));
  const env = { ...process.env, ...api, BREAKFIX_LEARNER: `e2e-${plan.key}` };
  const labctl = [join(root, 'node_modules/.bin/tsx'), join(root, 'apps/labctl/src/main.ts')];
  const claimed = await run(
    labctl[0] ?? 'tsx',
    [labctl[1] ?? '', 'claim', scenario, '--json', '--out', dir, '--timeout', '120'],
    {
      cwd: root,
      env,
    },
  );
  const claim = JSON.parse(claimed.stdout) as {
    id: string;
    host: string;
    port: number;
    user: string;
    privateKey?: string;
  };
  if (claim.id !== id) throw new Error(`labctl claimed ${claim.id}, not the ready lab ${id}`);
  const key = join(dir, `breakfix-${claim.id}.key`);
  const knownHosts = join(dir, `breakfix-${claim.id}.known_hosts`);
  writeFileSync(join(dir, 'ssh_config'), '');
  const { stdout } = await run(
    'ssh',
    [
      '-F',
      join(dir, 'ssh_config'),
      '-i',
      key,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=30',
      '-p',
      String(claim.port),
      `${claim.user}@${claim.host}`,
      'kubectl --request-timeout=30s get nodes --no-headers',
    ],
    { timeout: 120_000 },
  );
  const rows = stdout.trim().split('\n');
  if (rows.length !== plan.workers + 1 || rows.some((row) => row.split(/\s+/)[1] !== 'Ready')) {
    throw new Error(`the learner's kubectl get nodes shows:\n${stdout}`);
  }
  return rows.map((row) => row.split(/\s+/).slice(0, 2).join(' ')).join(', ');
}

/** `labctl pools --json`, the pool's row as one line: what an operator sees. */
async function poolsReport(api: Record<string, string>, pool: string): Promise<string> {
  const { stdout } = await run(
    join(root, 'node_modules/.bin/tsx'),
    [join(root, 'apps/labctl/src/main.ts'), 'pools', '--json'],
    { cwd: root, env: { ...process.env, ...api } },
  );
  const rows = JSON.parse(stdout) as { name: string }[];
  return JSON.stringify(rows.find((row) => row.name === pool) ?? {});
}

function report(
  results: { plan: LabPlan; times?: LabTimes; ok: boolean; detail: string }[],
  image: { dir: string; cached: boolean; seconds: number },
  accelerator: string | undefined,
  started: number,
): void {
  console.log('');
  console.log(
    `accelerator: ${accelerator ?? 'unknown'}; image ${image.cached ? 'cached' : 'built'} in ${seconds(image.seconds * 1000)} s (${image.dir})`,
  );
  for (const { plan, times, ok, detail } of results) {
    console.log(
      `\n${plan.key} (${plan.workers + 1} node(s)${times ? `, ${times.id}` : ''}): ${ok ? 'OK' : 'NOT OK'} — ${detail}`,
    );
    if (times === undefined) continue;
    const at = (t: number | undefined) => (t === undefined ? '-' : `${seconds(t - times.enqueuedAt)} s`);
    const phases: [string, number | undefined][] = [
      ['QEMU started (VMI Running)', times.qemuStartedAt],
      ['DHCP lease (VMI address)', times.leasedAt],
      ['SSH answers', times.sshAt],
      ['guest hard-reset', times.resetAt],
      ...GUEST_PHASES.map(([name]) => [name, times.guest[name]] as [string, number | undefined]),
      ['ready (provisioner)', times.readyAt],
      ['failed', times.failedAt],
    ];
    for (const [name, t] of phases) if (t !== undefined) console.log(`  ${name.padEnd(28)} ${at(t)}`);
    for (const [node, m] of Object.entries(times.memory ?? {})) {
      console.log(`  memory of ${node.padEnd(18)} ${m.workingSetMiB} MiB in use, ${m.availableMiB} MiB available`);
    }
    console.log(
      JSON.stringify({
        bench: 'real-lab',
        lab: plan.key,
        kubernetes: release.version,
        nodes: plan.workers + 1,
        ok,
        accelerator,
        imageCached: image.cached,
        seconds: Object.fromEntries(
          phases.filter(([, t]) => t !== undefined).map(([n, t]) => [n, seconds((t ?? 0) - times.enqueuedAt)]),
        ),
        ...(times.memory === undefined ? {} : { memoryMiB: times.memory }),
      }),
    );
  }
  console.log(`\ntotal ${seconds(Date.now() - started)} s`);
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

main().catch((error: unknown) => {
  console.error('e2e failed:', error);
  console.log(`real labs: 0 ready, ${LABS.length} failed`);
  process.exit(1);
});
