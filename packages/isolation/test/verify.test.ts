import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '@breakfix/kube';
import { isolationPolicies, type LabAddon, parsePlatformConfig } from '@breakfix/manifests';
import { resolveNca, verifyIsolation } from '../src/index.js';

const platform = parsePlatformConfig({
  hostNetworks: {
    podCidrs: ['10.244.0.0/16'],
    serviceCidrs: ['10.96.0.0/12'],
    nodeCidrs: ['192.168.10.0/24'],
    apiServerCidrs: ['172.20.0.1/32'],
  },
  operator: { publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest breakfix-operator' },
});

/** breakfix's policies with one of them rewritten by `edit`. */
function broken(name: string, edit: (spec: Record<string, any>) => void): LabAddon {
  return (lab) =>
    isolationPolicies(lab).map((policy: KubeObject) => {
      if (policy.metadata.name !== name) return policy;
      const copy = structuredClone(policy);
      edit(copy.spec as Record<string, any>);
      return copy;
    });
}

const verify = async (policies?: LabAddon) =>
  verifyIsolation({ platform, nca: await resolveNca(), labs: 8, ...(policies ? { policies } : {}) });

describe('isolation proof', () => {
  test("breakfix's policies: no cross-lab connection, every promise kept", async () => {
    const report = await verify();
    assert.deepEqual(report.crossLab, []);
    assert.deepEqual(report.violations, []);
    assert.equal(report.kept.length, 4);
  });

  test('"within the lab" written with a namespaceSelector leaks, and the report names the pair', async () => {
    const report = await verify(
      broken('allow-within-lab', (spec) => {
        spec.ingress = [{ from: [{ namespaceSelector: {} }] }];
        spec.egress = [{ to: [{ namespaceSelector: {} }] }];
      }),
    );
    assert.ok(report.crossLab.length > 0);
    assert.match(report.crossLab[0] ?? '', /^lab-iso\d{3}\/virt-launcher-\S+ -> lab-iso\d{3}\/virt-launcher-\S+ \(/);
  });

  test('DNS open on every port is reported as reaching a host workload', async () => {
    const report = await verify(
      broken('allow-dns', (spec) => {
        delete spec.egress[0].ports;
      }),
    );
    assert.match(
      report.violations.join('\n'),
      /lab iso000 reaches host workload: lab-iso000\/\S+ -> kube-system\/coredns \(All connections\)/,
    );
  });

  test('SSH open to the whole address space is reported as reachable from inside the cluster', async () => {
    const report = await verify(
      broken('allow-access-to-control-plane', (spec) => {
        delete spec.ingress[0].from[0].ipBlock.except;
      }),
    );
    assert.match(report.violations.join('\n'), /accepts SSH from inside the cluster \(10\.244\.0\.0\/16\)/);
  });

  test('platform SSH that reaches only the control plane is reported for every worker', async () => {
    const report = await verify(
      broken('allow-platform-ssh-to-nodes', (spec) => {
        spec.podSelector.matchLabels['breakfix.dev/role'] = 'control-plane';
      }),
    );
    // verify() renders lab i with i % 4 workers: lab iso001 has w1.
    assert.match(
      report.violations.join('\n'),
      /lab iso001: SSH into virt-launcher-w1 is not open from breakfix-system/,
    );
    assert.doesNotMatch(report.violations.join('\n'), /virt-launcher-cp is not open/);
  });

  test('learner SSH opened to the workers too is reported', async () => {
    const report = await verify(
      broken('allow-access-to-control-plane', (spec) => {
        delete spec.podSelector.matchLabels['breakfix.dev/role'];
      }),
    );
    assert.match(
      report.violations.join('\n'),
      /lab iso001 accepts more than SSH into its control plane: \S+ -> lab-iso001\/virt-launcher-w1/,
    );
  });

  test('internet egress that forgets the metadata address is caught', async () => {
    const report = await verify(
      broken('allow-internet-egress', (spec) => {
        spec.egress[0].to[0].ipBlock.except = spec.egress[0].to[0].ipBlock.except.filter(
          (c: string) => !c.startsWith('169.254'),
        );
      }),
    );
    assert.match(report.violations.join('\n'), /reaches the metadata address 169\.254\.169\.254\/32/);
  });

  test('npm run verify:isolation checks 50 labs and ends with the cross-lab count', async () => {
    const script = fileURLToPath(new URL('../../../scripts/verify-isolation.ts', import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', script], (error, out) => (error ? reject(error) : resolve(out))),
    );
    const lines = stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^analyzed 50 labs in/);
    assert.equal(lines.at(-1), 'cross-lab connections: 0');
    assert.doesNotMatch(stdout, /FAIL|LEAK/);
  });
});
