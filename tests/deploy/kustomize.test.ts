import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createKube, type KubeObject } from '@breakfix/kube';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import { createOperatorKey } from '@breakfix/secrets';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { parse, parseAllDocuments } from 'yaml';
import { kubectlPath, PLATFORM_NAMESPACE, renderOverlay, repoRoot } from './deploy-kit.js';

const OVERLAYS = ['infra/overlays/prod', 'infra/overlays/dev', 'infra/overlays/prod-external-redis'];

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  livenessProbe?: unknown;
  readinessProbe?: unknown;
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName: string;
    securityContext: Record<string, unknown>;
    containers: Container[];
    volumes?: unknown[];
  };
}
type Workload = KubeObject & {
  spec: { replicas?: number; template: PodTemplate; volumeClaimTemplates?: { metadata: { name: string } }[] };
};

const workloads = (objects: KubeObject[]) =>
  objects.filter((o): o is Workload => o.kind === 'Deployment' || o.kind === 'StatefulSet');

test('every overlay renders, and the apiserver accepts every object (server-side dry run, strict fields)', async () => {
  const { info } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const kubectl = await kubectlPath(info);
  // Given a namespace of its own for the namespaced objects: the operator-guide test really
  // installs the platform into breakfix-system, and a StatefulSet's spec cannot be updated, so a
  // dry run over the installed one would test the install rather than the overlay.
  const namespace = uniqueName('bf-dry');
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: PLATFORM_NAMESPACE } });
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });

  for (const overlay of OVERLAYS) {
    // When the overlay is rendered by kubectl's own kustomize
    const objects = renderOverlay(kubectl, overlay);
    assert.ok(objects.length > 20, `${overlay} renders its objects`);
    // Then the apiserver (with KubeVirt's CRDs, admission on) accepts each one
    for (const rendered of objects) {
      const object =
        rendered.metadata.namespace === PLATFORM_NAMESPACE
          ? { ...rendered, metadata: { ...rendered.metadata, namespace } }
          : rendered;
      await kube.apply(object, { dryRun: true }).catch((error: unknown) => {
        throw new Error(`${overlay}: ${object.kind} ${object.metadata.name}: ${(error as Error).message}`);
      });
    }
  }

  // And the Secret templates the operator guide refers to are valid Secrets too
  const templates = parseAllDocuments(readFileSync(join(repoRoot, 'infra/base/templates/secrets.yaml'), 'utf8'));
  for (const doc of templates) await kube.apply(doc.toJSON() as KubeObject, { dryRun: true });
});

test('the pods the overlays make pass Pod Security "restricted" in the platform namespace', async () => {
  const { info } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const kubectl = await kubectlPath(info);
  const prod = renderOverlay(kubectl, 'infra/overlays/prod');
  // Given the namespace (enforce: restricted) and its ServiceAccounts
  for (const object of prod.filter((o) => o.kind === 'Namespace' || o.kind === 'ServiceAccount')) {
    await kube.apply(object);
  }
  for (const overlay of ['infra/overlays/prod', 'infra/overlays/dev']) {
    for (const workload of workloads(renderOverlay(kubectl, overlay))) {
      // When each pod template is submitted as a Pod (a StatefulSet's claims become volumes),
      // then admission lets it in
      const claims = (workload.spec.volumeClaimTemplates ?? []).map((c) => ({
        name: c.metadata.name,
        persistentVolumeClaim: { claimName: `${c.metadata.name}-${workload.metadata.name}-0` },
      }));
      const { spec } = workload.spec.template;
      const pod: KubeObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${workload.metadata.name}-probe`, namespace: PLATFORM_NAMESPACE },
        spec: { ...spec, volumes: [...(spec.volumes ?? []), ...claims] },
      };
      await kube.apply(pod, { dryRun: true }).catch((error: unknown) => {
        throw new Error(`${overlay} ${workload.kind} ${workload.metadata.name}: ${(error as Error).message}`);
      });
    }
  }
});

test('every container is non-root, read-only, bounded, probed and covered by a disruption budget', async () => {
  const { info } = await useSandbox();
  const objects = renderOverlay(await kubectlPath(info), 'infra/overlays/prod');
  const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget') as (KubeObject & {
    spec: { selector: { matchLabels: Record<string, string> } };
  })[];
  const found = workloads(objects);
  assert.deepEqual(found.map((w) => w.metadata.name).sort(), ['orchestrator', 'pool-worker', 'redis', 'slack-bot']);

  for (const workload of found) {
    const { spec } = workload.spec.template;
    const name = `${workload.kind} ${workload.metadata.name}`;
    assert.equal(spec.securityContext.runAsNonRoot, true, `${name} runs as non-root`);
    for (const container of spec.containers) {
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${name} read-only root`);
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${name} no escalation`);
      assert.deepEqual(container.securityContext?.capabilities, { drop: ['ALL'] }, `${name} no capabilities`);
      assert.ok(container.resources?.requests?.memory && container.resources.limits?.memory, `${name} memory`);
      assert.ok(container.livenessProbe && container.readinessProbe, `${name} probes`);
      if (workload.metadata.name === 'orchestrator' || workload.metadata.name === 'slack-bot') {
        // readiness says whether it can serve (Redis, Slack's token); liveness only that it runs
        const path = (probe: unknown) => (probe as { httpGet?: { path?: string } }).httpGet?.path;
        assert.equal(path(container.readinessProbe), '/readyz', `${name} readiness`);
        assert.equal(path(container.livenessProbe), '/healthz', `${name} liveness`);
      }
    }
    if (workload.kind === 'Deployment') {
      const labels = workload.spec.template.metadata.labels;
      const budget = budgets.find((b) =>
        Object.entries(b.spec.selector.matchLabels).every(([k, v]) => labels[k] === v),
      );
      assert.ok(budget, `${name} has a PodDisruptionBudget`);
    }
  }
  assert.equal(found.find((w) => w.metadata.name === 'pool-worker')?.spec.replicas, 2, 'two pool workers');
});

test('the apps get the environment they read, and every file they are told about is mounted', async () => {
  const { info } = await useSandbox();
  const objects = renderOverlay(await kubectlPath(info), 'infra/overlays/prod');
  const mainOf: Record<string, string> = { 'pool-worker': 'apps/pool-worker/src/main.ts' };
  for (const workload of workloads(objects).filter((w) => w.kind === 'Deployment')) {
    const container = workload.spec.template.spec.containers[0];
    assert.ok(container);
    const env = new Map((container.env ?? []).map((e) => [e.name, e.value]));
    // Files named by *_FILE variables live under one of the container's mounts
    for (const [name, value] of env) {
      if (!name.endsWith('_FILE') || value === undefined) continue;
      const mounted = (container.volumeMounts ?? []).some((m) => value.startsWith(`${m.mountPath}/`));
      assert.ok(mounted, `${workload.metadata.name}: ${name}=${value} is under a volume mount`);
    }
    // The apps that exist read exactly the variables they are given (no typo goes unnoticed)
    const main = mainOf[workload.metadata.name];
    if (main === undefined) continue;
    const source = readFileSync(join(repoRoot, main), 'utf8');
    for (const name of env.keys()) assert.ok(source.includes(name), `${main} reads ${name}`);
    for (const required of ['BREAKFIX_REDIS_URL', 'BREAKFIX_POOLS_FILE', 'BREAKFIX_PLATFORM_FILE']) {
      assert.ok(env.has(required), `${workload.metadata.name} is given ${required}`);
    }
  }
});

test('the pools and platform settings the overlays ship are accepted by the apps that read them', async () => {
  const { info } = await useSandbox();
  const kubectl = await kubectlPath(info);
  const { publicKey } = createOperatorKey();
  for (const overlay of ['infra/overlays/prod', 'infra/overlays/dev']) {
    const maps = renderOverlay(kubectl, overlay).filter((o) => o.kind === 'ConfigMap') as (KubeObject & {
      data: Record<string, string>;
    })[];
    const file = (key: string) => {
      const text = maps.find((m) => m.data[key] !== undefined)?.data[key];
      assert.ok(text, `${overlay} ships ${key}`);
      return parse(text) as Record<string, unknown>;
    };
    const pools = parsePoolsConfig(file('pools.yaml'));
    assert.ok(pools.length > 0);
    const platformInput = file('platform.yaml');
    const platform = parsePlatformConfig({
      ...platformInput,
      operator: { ...(platformInput.operator as object), publicKey },
    });
    // Labs admit the platform's SSH from this namespace: it must be where the overlay installs
    assert.equal(platform.platformNamespace, PLATFORM_NAMESPACE);
    const redisConf = maps.find((m) => m.data['redis.conf'] !== undefined)?.data['redis.conf'] ?? '';
    if (!overlay.endsWith('external-redis')) {
      assert.match(redisConf, /^maxmemory-policy noeviction$/m);
      assert.match(redisConf, /^appendonly yes$/m);
      assert.match(redisConf, /^appendfsync everysec$/m);
    }
  }
});

type Ingress = KubeObject & {
  metadata: { annotations?: Record<string, string> };
  spec: {
    rules: {
      host: string;
      http: {
        paths: { path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }[];
      };
    }[];
  };
};

/** Where an Ingress sends a request path (Exact, or Prefix by whole path elements), as the API defines it. */
function route(ingress: Ingress, path: string): string | undefined {
  const elements = (p: string) => p.split('/').filter((e) => e !== '');
  const matches = ingress.spec.rules.flatMap((rule) =>
    rule.http.paths.filter((p) =>
      p.pathType === 'Exact' ? p.path === path : elements(p.path).every((element, i) => elements(path)[i] === element),
    ),
  );
  const longest = matches.sort((x, y) => y.path.length - x.path.length)[0];
  return longest === undefined ? undefined : `${longest.backend.service.name}:${longest.backend.service.port.name}`;
}

test('one Ingress publishes the API, dashboard and terminal WebSockets to any replica; /metrics stays inside', async () => {
  const { info } = await useSandbox();
  const kubectl = await kubectlPath(info);
  for (const overlay of OVERLAYS) {
    const objects = renderOverlay(kubectl, overlay);
    const ingresses = objects.filter((o): o is Ingress => o.kind === 'Ingress');
    assert.equal(ingresses.length, 1, `${overlay} has one Ingress`);
    const ingress = ingresses[0] as Ingress;
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'orchestrator') as
      | (KubeObject & { spec: { ports: { name: string }[]; sessionAffinity?: string } })
      | undefined;
    assert.ok(
      service?.spec.ports.some((p) => p.name === 'http'),
      'the orchestrator Service has the port it names',
    );

    // Then every path a browser or client uses reaches the orchestrator, and nothing else does
    const cases: [string, string | undefined][] = [
      ['/v1/labs', 'orchestrator:http'],
      ['/admin', 'orchestrator:http'],
      ['/admin/labs/e-1/terminal', 'orchestrator:http'],
      ['/admin/labs/e-1/terminal/socket', 'orchestrator:http'],
      ['/labs/e-1/terminal', 'orchestrator:http'],
      ['/labs/e-1/terminal/socket', 'orchestrator:http'],
      ['/terminal/assets/xterm.mjs', 'orchestrator:http'],
      ['/openapi.json', 'orchestrator:http'],
      ['/docs', 'orchestrator:http'],
      ['/metrics', undefined],
      ['/healthz', undefined],
      ['/readyz', undefined],
      ['/labsx', undefined],
    ];
    for (const [path, backend] of cases) assert.equal(route(ingress, path), backend, `${overlay}: ${path}`);

    // And a terminal left quiet for an hour stays open through ingress-nginx
    const annotations = ingress.metadata.annotations ?? {};
    for (const name of ['proxy-read-timeout', 'proxy-send-timeout']) {
      assert.ok(Number(annotations[`nginx.ingress.kubernetes.io/${name}`]) >= 3600, `${overlay}: ${name}`);
    }
    // And no replica has to be pinned: watching works across replicas (docs/adr/0027)
    assert.deepEqual(
      Object.keys(annotations).filter((a) => /affinity|upstream-hash-by|session-cookie/.test(a)),
      [],
      `${overlay}: no sticky sessions`,
    );
    assert.notEqual(service?.spec.sessionAffinity, 'ClientIP');
  }
});
