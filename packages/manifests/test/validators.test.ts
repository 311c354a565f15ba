import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createKube, type KubeObject } from '@breakfix/kube';
import { kubeadmFor, resolveBinaries } from '@breakfix/sandbox';
import { createLabSecrets } from '@breakfix/secrets';
import { pinnedNodePort, uniqueName, useSandbox } from '@breakfix/testkit';
import { parse } from 'yaml';
import { isolationPolicies, KUBERNETES_RELEASES, labNodes, parseLabSpec, renderLab, sshService } from '../src/index.js';
import { platform } from './fixtures.js';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'breakfix-validate-'));
const TOPOLOGIES = [0, 1, 2]; // 1, 2 and 3 nodes

interface UserData {
  write_files: { path: string; content: string }[];
}

async function labFor(minor: string, workers: number) {
  const spec = parseLabSpec({
    labId: uniqueName(`v${minor.replace('.', '')}w${workers}`).slice(0, 20),
    kubernetesVersion: minor,
    workers,
  });
  const secrets = await createLabSecrets({ labId: spec.labId, nodes: labNodes(spec).map((n) => n.name) });
  return { spec, objects: renderLab(spec, platform, secrets, { addons: [isolationPolicies] }) };
}

/** Fails with the tool's own output, so a broken template says what the validator said. */
async function check(command: string, args: string[]): Promise<void> {
  try {
    const { stdout, stderr } = await run(command, args);
    assert.doesNotMatch(`${stdout}${stderr}`, /Error|error:/, `${command} ${args.join(' ')}\n${stdout}${stderr}`);
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    assert.fail(`${command} ${args.join(' ')} failed:\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

for (const release of KUBERNETES_RELEASES) {
  describe(`Kubernetes ${release.minor}: generated artifacts pass the real validators`, () => {
    for (const workers of TOPOLOGIES) {
      test(`${workers + 1}-node lab: cloud-init schema, kubeadm config validate, shellcheck`, async () => {
        const { spec, objects } = await labFor(release.minor, workers);
        const kubeadm = await kubeadmFor(await resolveBinaries({ build: false }), release.version);
        for (const secret of objects.filter((o) => o.kind === 'Secret')) {
          const userData = (secret.stringData as { userdata: string }).userdata;
          const base = join(work, `${spec.labId}-${secret.metadata.name}`);
          writeFileSync(`${base}.user-data`, userData);
          await check('cloud-init', ['schema', '--config-file', `${base}.user-data`]);

          const files = (parse(userData) as UserData).write_files;
          const config = files.find((f) => f.path === '/etc/breakfix/kubeadm.yaml');
          assert.ok(config, 'user-data carries a kubeadm config');
          writeFileSync(`${base}.kubeadm.yaml`, config.content);
          await check(kubeadm, ['config', 'validate', '--config', `${base}.kubeadm.yaml`]);

          const script = files.find((f) => f.path === '/usr/local/sbin/breakfix-bootstrap');
          const env = files.find((f) => f.path === '/etc/breakfix/bootstrap.env');
          assert.ok(script && env);
          writeFileSync(`${base}.bootstrap.sh`, script.content);
          await check('shellcheck', [`${base}.bootstrap.sh`]);
          // The values as the script sees them: the env file in place of its `source` line.
          const [shebang, ...body] = script.content.split('\n');
          writeFileSync(`${base}.bootstrap-with-env.sh`, [shebang, env.content, ...body].join('\n'));
          await check('shellcheck', [`${base}.bootstrap-with-env.sh`]);
        }
      });
    }
  });
}

describe("kubeadm writes the control plane's static pods with the slow-guest patches applied", () => {
  for (const release of KUBERNETES_RELEASES) {
    test(`Kubernetes ${release.minor}: every probe keeps its handler, the limits are raised, leases stretched`, async () => {
      const { spec, objects } = await labFor(release.minor, 0);
      const kubeadm = await kubeadmFor(await resolveBinaries({ build: false }), release.version);
      const secret = objects.find((o) => o.metadata.name === 'cp-cloud-init');
      assert.ok(secret, 'the control plane has a cloud-init Secret');
      const userData = (secret.stringData as { userdata: string }).userdata;
      const files = (parse(userData) as UserData).write_files;
      // The patches directory and the config as cloud-init writes them, moved under a temporary root.
      const base = mkdtempSync(join(work, `${spec.labId}-static-`));
      const patchesDir = join(base, 'patches');
      mkdirSync(patchesDir);
      for (const file of files.filter((f) => f.path.startsWith('/etc/breakfix/kubeadm-patches/'))) {
        writeFileSync(join(patchesDir, file.path.split('/').at(-1) ?? ''), file.content);
      }
      const config = files.find((f) => f.path === '/etc/breakfix/kubeadm.yaml')?.content ?? '';
      assert.match(config, /directory: \/etc\/breakfix\/kubeadm-patches/);
      writeFileSync(join(base, 'kubeadm.yaml'), config.replace('/etc/breakfix/kubeadm-patches', patchesDir));
      const out = join(base, 'manifests');
      for (const phase of [
        ['control-plane', 'all'],
        ['etcd', 'local'],
      ]) {
        await run(kubeadm, ['init', 'phase', ...phase, '--config', join(base, 'kubeadm.yaml'), '--dry-run'], {
          env: { ...process.env, KUBEADM_INIT_DRYRUN_DIR: out },
        });
      }
      for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
        type Probe = Record<string, unknown> & { timeoutSeconds?: number; failureThreshold?: number };
        type Container = { command: string[] } & Partial<
          Record<'startupProbe' | 'livenessProbe' | 'readinessProbe', Probe>
        >;
        const pod = parse(readFileSync(join(out, `${name}.yaml`), 'utf8')) as { spec: { containers: Container[] } };
        const container = pod.spec.containers[0];
        assert.ok(container);
        for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
          const probe: Probe | undefined = container[kind];
          if (probe === undefined) continue;
          assert.ok(probe.httpGet ?? probe.exec ?? probe.tcpSocket ?? probe.grpc, `${name} ${kind} has no handler`);
          assert.equal(probe.timeoutSeconds, 30, `${name} ${kind} timeout`);
        }
        assert.equal(container.startupProbe?.failureThreshold, 120, `${name} startup probe`);
        assert.equal(container.livenessProbe?.failureThreshold, 30, `${name} liveness probe`);
        if (name === 'kube-controller-manager' || name === 'kube-scheduler') {
          // one control plane: no election, so no lease to wait out after a restart (ADR 0014)
          assert.ok(container.command.includes('--leader-elect=false'), `${name} leader election off`);
          assert.ok(!container.command.includes('--leader-elect=true'), `${name} leader election on twice`);
        }
      }
    });
  }
});

describe('the sandbox apiserver accepts every rendered object, policies and SSH Service included (server-side apply, dryRun=All, strict)', () => {
  for (const release of KUBERNETES_RELEASES) {
    for (const workers of TOPOLOGIES) {
      test(`Kubernetes ${release.minor}, ${workers + 1} node(s)`, async () => {
        const kube = createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
        const { spec, objects } = await labFor(release.minor, workers);
        const [namespace, ...rest] = objects as [KubeObject, ...KubeObject[]];
        // Namespaced objects can only be dry-run into a namespace that exists.
        await kube.apply(namespace);
        try {
          for (const object of rest) {
            const accepted = await kube.apply(object, { dryRun: true });
            assert.equal(accepted.metadata.name, object.metadata.name);
          }
          // A band no allocator of ours leases; but a Service created anywhere in the run without
          // a nodePort gets one the apiserver picks from the whole range, ours included. So a
          // port found taken is picked again (a dry run cannot re-pick by itself).
          const sshAt = (port: number) =>
            sshService(
              { namespace: namespace.metadata.name, labels: namespace.metadata.labels ?? {}, labId: spec.labId },
              port,
            );
          let accepted: KubeObject | undefined;
          for (let attempt = 1; accepted === undefined; attempt++) {
            try {
              accepted = await kube.apply(sshAt(pinnedNodePort('manifests-validators')), { dryRun: true });
            } catch (error) {
              if (attempt >= 5 || !/provided port is already allocated/.test((error as Error).message)) throw error;
            }
          }
          assert.equal(accepted.metadata.name, 'ssh');
          assert.equal(rest.filter((o) => o.kind === 'NetworkPolicy').length, 5);
          const persisted = await kube.list('kubevirt.io/v1', 'VirtualMachine', { namespace: namespace.metadata.name });
          assert.equal(persisted.length, 0, 'dry run persisted nothing');
        } finally {
          await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace.metadata.name });
        }
      });
    }
  }
});
