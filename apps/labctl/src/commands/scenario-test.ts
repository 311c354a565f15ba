import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { labNodes, type PlatformConfig, parseLabSpec, parsePlatformConfig } from '@breakfix/manifests';
import { createProvisioner, EnvironmentStore, waitForNodes } from '@breakfix/pool';
import { emulatedBootstrap } from '@breakfix/sandbox';
import { createScenarioRunner, type LabTargets, type Scenario, type SelfTestStep, selfTest } from '@breakfix/scenarios';
import { createOperatorKey, type SshKeyPair } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { Redis } from 'ioredis';
import { parse } from 'yaml';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Where `labctl scenario test` provisions its lab, and how it logs in. */
interface Target {
  name: string;
  kubeconfig: string;
  redisUrl: string;
  platform: PlatformConfig;
  operatorKey: SshKeyPair;
  simulator: boolean;
}

export interface ScenarioTestFlags {
  sandbox?: string | undefined;
  kubeconfig?: string | undefined;
  'redis-url'?: string | undefined;
  platform?: string | undefined;
  'operator-key'?: string | undefined;
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
    const redisUrl = flags['redis-url'] ?? env.BREAKFIX_REDIS_URL;
    const platformFile = flags.platform ?? env.BREAKFIX_PLATFORM_CONFIG;
    const keyFile = flags['operator-key'] ?? env.BREAKFIX_OPERATOR_KEY;
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
    return { name: `the cluster of ${kubeconfig}`, kubeconfig, redisUrl, platform, operatorKey, simulator: false };
  }
  const file =
    flags.sandbox ??
    env.BREAKFIX_SANDBOX_FILE ??
    [join(process.cwd(), '.breakfix/sandbox.json'), join(REPO_ROOT, '.breakfix/sandbox.json')].find((f) =>
      existsSync(f),
    );
  if (file === undefined || !existsSync(file)) {
    throw new InvalidInputError('no sandbox found (.breakfix/sandbox.json) and no --kubeconfig given', {
      hint: 'start one with `npm run sandbox` in another terminal, or test against a real cluster with --kubeconfig',
    });
  }
  const info = JSON.parse(readFileSync(file, 'utf8')) as { kubeconfig: string; redisUrl: string };
  // A fresh operator key per run: the simulated guests trust whatever the lab's cloud-init says.
  const operatorKey = createOperatorKey();
  const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
  return {
    name: `the sandbox (${resolve(file)})`,
    kubeconfig: info.kubeconfig,
    redisUrl: info.redisUrl,
    platform,
    operatorKey,
    simulator: true,
  };
}

/**
 * Provisions a lab of the scenario's shape, proves break -> fail -> decoys -> solve -> pass on it, and tears
 * it down (unless `keep`). Returns whether the proof held; writes each step to `out`.
 */
export async function testScenario(
  scenario: Scenario,
  target: Target,
  options: { k8s?: string | undefined; keep?: boolean | undefined; out: (line: string) => void },
): Promise<boolean> {
  const { out } = options;
  if (target.simulator && !scenario.simulator) {
    throw new InvalidInputError(
      `${scenario.id} breaks a real kubeadm node; the sandbox's simulated nodes have no kubelet, systemd or root`,
      { hint: 'run it against a real cluster with --kubeconfig (docs/instructor-guide.md)' },
    );
  }
  const kube = createKube({ kubeconfig: target.kubeconfig });
  const redis = new Redis(target.redisUrl, { maxRetriesPerRequest: 1 });
  const ssh = createSshRunner();
  const store = new EnvironmentStore({ redis, prefix: 'breakfix-scenario-test:' });
  const provisioner = createProvisioner({
    kube,
    store,
    ssh,
    platform: target.platform,
    operatorKey: target.operatorKey,
    ...(target.simulator
      ? { vmsRunningTimeoutMs: 60_000, readyTimeoutMs: 60_000, probeIntervalMs: 200, decorate: emulatedBootstrap }
      : {}),
  });
  const labId = `st-${randomBytes(4).toString('hex')}`;
  const version = options.k8s ?? scenario.kubernetesVersions.at(-1);
  if (version !== undefined && !scenario.kubernetesVersions.includes(version.replace(/^v/, '')))
    throw new InvalidInputError(`${scenario.id} supports ${scenario.kubernetesVersions.join(', ')}, not ${version}`);
  const spec = parseLabSpec({
    labId,
    kubernetesVersion: version,
    workers: scenario.topology.workers,
    cni: scenario.cni,
    egress: scenario.egress,
  });
  out(`scenario ${scenario.id} on ${target.name}`);
  const started = Date.now();
  out(`provisioning lab ${labId} (Kubernetes ${spec.release.minor}, ${spec.workers} worker(s))...`);
  try {
    const outcome = await provisioner.provision({ id: labId, pool: 'scenario-test', spec });
    if (outcome !== 'ready') throw new InvalidInputError(`lab ${labId} did not become ready (${outcome})`);
    out(`lab ${labId} ready in ${seconds(Date.now() - started)}`);
    const lab = await labTargets(labId, target, kube, store, provisioner.namespaceFor(labId), labNodes(spec));
    const runner = createScenarioRunner({
      ssh,
      // Simulated guests have no root: their sudo runs as the operator, who cannot write /var/lib.
      ...(target.simulator ? { stateDir: '/tmp/breakfix-scenario-state' } : {}),
    });
    const report = await selfTest(runner, scenario, lab, (step) => out(formatStep(step)));
    out(report.ok ? `PASS ${scenario.id}` : `FAIL ${scenario.id}`);
    return report.ok;
  } finally {
    if (options.keep) out(`kept lab ${labId} (namespace ${provisioner.namespaceFor(labId)})`);
    else {
      await provisioner
        .teardown(labId)
        .catch((error: unknown) => out(`teardown of ${labId} failed: ${(error as Error).message}`));
      out(`tore down lab ${labId}`);
    }
    redis.disconnect();
  }
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
