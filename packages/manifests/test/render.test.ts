import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '@breakfix/core';
import type { KubeObject } from '@breakfix/kube';
import { createLabSecrets } from '@breakfix/secrets';
import { assertSnapshot } from '@breakfix/testkit';
import { parse, stringify } from 'yaml';
import {
  checkKubevirtRules,
  type LabAddon,
  labNodes,
  parseCidr,
  parseLabSpec,
  parsePlatformConfig,
  renderLab,
} from '../src/index.js';
import { fixtureSecrets, platform, platformInput, spec } from './fixtures.js';

const render = (input: Record<string, unknown> = {}) => {
  const s = spec(input);
  return renderLab(s, platform, fixtureSecrets(s));
};
const byKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
interface UserData {
  write_files: { path: string; content: string }[];
}
function userDataOf(secret: KubeObject | undefined): UserData {
  assert.ok(secret, 'the Secret exists');
  return parse((secret.stringData as { userdata: string }).userdata) as UserData;
}
type Vm = KubeObject & {
  spec: {
    runStrategy: string;
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        evictionStrategy: string;
        domain: {
          firmware?: object;
          cpu: { cores: number };
          memory: { guest: string };
          devices: { interfaces: object[] };
        };
        networks: object[];
        volumes: { name: string; containerDisk?: { image: string }; cloudInitNoCloud?: object }[];
      };
    };
  };
};

describe('rendering a lab', () => {
  test('a 3-node lab, pinned by snapshot', () => {
    const objects = render({ kubernetesVersion: '1.36', workers: 2 });
    assertSnapshot(
      import.meta.url,
      'lab-1.36-3-nodes.yaml',
      objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join(''),
    );
  });

  test('a 1-node lab, pinned by snapshot', () => {
    const objects = render({ kubernetesVersion: '1.34', size: 'small' });
    assertSnapshot(
      import.meta.url,
      'lab-1.34-1-node.yaml',
      objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join(''),
    );
  });

  test('objects come in apply order, all in the lab namespace', () => {
    const objects = render({ workers: 2 });
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        'Namespace/lab-demo',
        'ResourceQuota/lab',
        'LimitRange/lab',
        'Secret/cp-cloud-init',
        'Secret/w1-cloud-init',
        'Secret/w2-cloud-init',
        'Service/cp-api',
        'Service/cp',
        'Service/w1',
        'Service/w2',
        'VirtualMachine/cp',
        'VirtualMachine/w1',
        'VirtualMachine/w2',
      ],
    );
    for (const object of objects.slice(1)) assert.equal(object.metadata.namespace, 'lab-demo');
    for (const object of objects) assert.equal(object.metadata.labels?.['breakfix.dev/lab'], 'demo');
  });

  test('VMs: bridge on the pod network, explicit strategies, our labels on the template, user-data from a Secret', () => {
    const [cp, worker] = byKind(render({ workers: 1, size: 'large' }), 'VirtualMachine') as Vm[];
    assert.ok(cp && worker);
    // Once: a lost VMI is not replaced by a fresh, unbroken cluster (docs/adr/0012).
    assert.equal(cp.spec.runStrategy, 'Once');
    assert.equal(worker.spec.runStrategy, 'Once');
    const template = cp.spec.template;
    assert.equal(template.spec.evictionStrategy, 'None');
    assert.deepEqual(template.spec.domain.devices.interfaces, [{ name: 'default', bridge: {} }]);
    assert.deepEqual(template.spec.networks, [{ name: 'default', pod: {} }]);
    assert.deepEqual(template.metadata.labels, {
      'breakfix.dev/lab': 'demo',
      'app.kubernetes.io/managed-by': 'breakfix',
      'breakfix.dev/instance': 'breakfix',
      'breakfix.dev/role': 'control-plane',
      'breakfix.dev/node': 'cp',
    });
    assert.deepEqual(template.spec.volumes[1], {
      name: 'cloud-init',
      cloudInitNoCloud: { secretRef: { name: 'cp-cloud-init' } },
    });
    assert.equal(template.spec.volumes[0]?.containerDisk?.image, 'registry.example.com/breakfix/node:v1.36.3');
    assert.equal(template.spec.domain.cpu.cores, 4);
    assert.equal(template.spec.domain.memory.guest, '4096Mi');
    assert.equal(worker.spec.template.metadata.labels['breakfix.dev/role'], 'worker');
  });

  test('workers are w1..wN everywhere: VM, hostname, Secret, label', () => {
    const objects = render({ workers: 4 });
    const vms = byKind(objects, 'VirtualMachine') as (Vm & { spec: { template: { spec: { hostname?: string } } } })[];
    assert.deepEqual(
      vms.map((vm) => [
        vm.metadata.name,
        vm.spec.template.spec.hostname,
        vm.spec.template.metadata.labels['breakfix.dev/node'],
      ]),
      [
        ['cp', 'cp', 'cp'],
        ['w1', 'w1', 'w1'],
        ['w2', 'w2', 'w2'],
        ['w3', 'w3', 'w3'],
        ['w4', 'w4', 'w4'],
      ],
    );
    assert.doesNotMatch(stringify(objects), /worker-\d/);
  });

  test('every node gets a headless Service of its own name, selecting only its launcher pod', () => {
    const objects = render({ workers: 2 });
    const services = byKind(objects, 'Service').filter((s) => s.metadata.name !== 'cp-api');
    assert.deepEqual(
      services.map((s) => s.metadata.name),
      ['cp', 'w1', 'w2'],
    );
    for (const service of services) {
      const spec = service.spec as {
        clusterIP: string;
        selector: Record<string, string>;
        publishNotReadyAddresses: boolean;
      };
      assert.equal(spec.clusterIP, 'None');
      assert.equal(spec.publishNotReadyAddresses, true);
      assert.deepEqual(spec.selector, { 'breakfix.dev/lab': 'demo', 'breakfix.dev/node': service.metadata.name });
      // the selector matches exactly one VM's template labels: its own
      const matching = (byKind(objects, 'VirtualMachine') as Vm[]).filter((vm) =>
        Object.entries(spec.selector).every(([k, v]) => vm.spec.template.metadata.labels[k] === v),
      );
      assert.deepEqual(
        matching.map((vm) => vm.metadata.name),
        [service.metadata.name],
      );
    }
  });

  test('bandwidth annotations reach the template only when asked for', () => {
    const [shaped] = byKind(render({ bandwidth: { ingress: '100M', egress: '50M' } }), 'VirtualMachine') as Vm[];
    assert.deepEqual(shaped?.spec.template.metadata.annotations, {
      'kubernetes.io/ingress-bandwidth': '100M',
      'kubernetes.io/egress-bandwidth': '50M',
    });
    const [plain] = byKind(render(), 'VirtualMachine') as Vm[];
    assert.equal(plain?.spec.template.metadata.annotations, undefined);
  });

  test('the quota counts every VM with its overhead and launcher sidecars, one NodePort, no load balancers', () => {
    const [quota] = byKind(render({ workers: 2, size: 'medium' }), 'ResourceQuota');
    assert.ok(quota);
    const hard = (quota.spec as { hard: Record<string, string> }).hard;
    // guests + KubeVirt's overhead + per VM the volume container (1M) and guest-console-log (35M)
    assert.equal(hard['requests.memory'], `${3072 + 2 * 2048 + 3 * 410 + 3 * 35}Mi`);
    // the VMs' requests + per VM 1m (volume container) + 5m (guest-console-log)
    assert.equal(hard['requests.cpu'], `${1000 + 2 * 500 + 3 * 6}m`);
    // cp-api, cp, w1, w2 and the claim's ssh
    assert.equal(hard.services, '5');
    assert.equal(hard['services.nodeports'], '1');
    assert.equal(hard['services.loadbalancers'], '0');
    assert.equal(hard['count/virtualmachines.kubevirt.io'], '3');
  });

  test('the control plane gets the CA and waits for every node; workers get no CA key', () => {
    const secrets = byKind(render({ workers: 2 }), 'Secret');
    const userData = (name: string) => userDataOf(secrets.find((s) => s.metadata.name === name));
    const cp = userData('cp-cloud-init');
    const paths = cp.write_files.map((f) => f.path);
    assert.ok(paths.indexOf('/etc/kubernetes/pki/ca.key') < paths.indexOf('/etc/breakfix/kubeadm.yaml'));
    assert.match(
      cp.write_files.find((f) => f.path === '/etc/breakfix/bootstrap.env')?.content ?? '',
      /BREAKFIX_EXPECTED_NODES='3'/,
    );
    assert.match(
      cp.write_files.find((f) => f.path === '/etc/breakfix/kubeadm.yaml')?.content ?? '',
      /controlPlaneEndpoint: cp-api\.lab-demo\.svc\.cluster\.local:6443/,
    );
    const worker = userData('w1-cloud-init');
    assert.equal(
      worker.write_files.some((f) => f.path.includes('/pki/')),
      false,
    );
    assert.match(
      worker.write_files.find((f) => f.path === '/etc/breakfix/kubeadm.yaml')?.content ?? '',
      /kind: JoinConfiguration/,
    );
  });

  test('a single-node lab drops the control-plane taint, a multi-node lab keeps it', () => {
    const kubeadm = (workers: number) => {
      const data = userDataOf(byKind(render({ workers }), 'Secret')[0]);
      return data.write_files.find((f) => f.path === '/etc/breakfix/kubeadm.yaml')?.content ?? '';
    };
    assert.match(kubeadm(0), /taints: \[\]/);
    assert.doesNotMatch(kubeadm(1), /taints:/);
  });

  test('addons land after the Services and before the VMs, with the lab context', () => {
    const policy: LabAddon = (lab) => [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'deny-all', namespace: lab.namespace, labels: lab.labels },
      },
    ];
    const s = spec({ workers: 1 });
    const objects = renderLab(s, platform, fixtureSecrets(s), { addons: [policy] });
    const kinds = objects.map((o) => o.kind);
    assert.equal(kinds.indexOf('NetworkPolicy'), kinds.indexOf('VirtualMachine') - 1);
    assert.equal(objects[kinds.indexOf('NetworkPolicy')]?.metadata.namespace, 'lab-demo');
  });
});

describe('two labs never share', () => {
  test('namespace, Secret, host key; and no nested range overlaps the host', async () => {
    const a = parseLabSpec({ labId: 'alpha', workers: 2 });
    const b = parseLabSpec({ labId: 'bravo', workers: 2 });
    const [secretsA, secretsB] = await Promise.all([
      createLabSecrets({ labId: 'alpha', nodes: labNodes(a).map((n) => n.name) }),
      createLabSecrets({ labId: 'bravo', nodes: labNodes(b).map((n) => n.name) }),
    ]);
    const labA = renderLab(a, platform, secretsA);
    const labB = renderLab(b, platform, secretsB);
    const namespaces = (objects: KubeObject[]) => new Set(objects.map((o) => o.metadata.namespace ?? o.metadata.name));
    assert.equal([...namespaces(labA)].filter((ns) => namespaces(labB).has(ns)).length, 0);
    const secretRefs = (objects: KubeObject[]) =>
      byKind(objects, 'Secret').map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
    assert.equal(secretRefs(labA).filter((ref) => secretRefs(labB).includes(ref)).length, 0);
    const keys = [...Object.values(secretsA.hostKeys), ...Object.values(secretsB.hostKeys)].map((k) => k.publicKey);
    assert.equal(new Set(keys).size, 6, 'every node of every lab has its own host key');
    assert.notEqual(secretsA.ca.certPem, secretsB.ca.certPem);
    assert.notEqual(secretsA.bootstrapToken, secretsB.bootstrapToken);

    const host = [
      ...platform.hostNetworks.podCidrs,
      ...platform.hostNetworks.serviceCidrs,
      ...platform.hostNetworks.nodeCidrs,
    ].map((c) => parseCidr(c, 'host'));
    for (const nested of [platform.nested.podSubnet, platform.nested.serviceSubnet].map((c) =>
      parseCidr(c, 'nested'),
    )) {
      for (const range of host)
        assert.ok(nested.last < range.first || range.last < nested.first, `${nested.cidr} vs ${range.cidr}`);
    }
  });
});

describe('bad input gets a clear error', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'an unknown version lists the supported ones',
      () => spec({ kubernetesVersion: '1.29' }),
      /kubernetesVersion: 1\.29 is not supported; supported: 1\.34 \(v1\.34\.4\), 1\.35 \(v1\.35\.4\), 1\.36 \(v1\.36\.3\)/,
    ],
    ['too many workers', () => spec({ workers: 9 }), /workers: 9 is too many; a lab has at most 4 workers/],
    ['a negative worker count', () => spec({ workers: -1 }), /workers: cannot be negative/],
    ['an invalid lab id', () => spec({ labId: 'Bad_Lab' }), /labId: must be 1-20 lowercase letters/],
    ['an unknown field', () => spec({ wrokers: 2 }), /Unrecognized key.*wrokers/],
    [
      'nested pods overlapping the host pods, naming both',
      () =>
        parsePlatformConfig({
          ...platformInput,
          nested: { podSubnet: '10.244.128.0/17', serviceSubnet: '10.95.0.0/16' },
        }),
      /nested\.podSubnet 10\.244\.128\.0\/17 overlaps the host cluster's hostNetworks\.podCidrs\[0\] 10\.244\.0\.0\/16/,
    ],
    [
      'nested services overlapping the host services',
      () =>
        parsePlatformConfig({
          ...platformInput,
          nested: { podSubnet: '10.243.0.0/16', serviceSubnet: '10.100.0.0/16' },
        }),
      /nested\.serviceSubnet 10\.100\.0\.0\/16 overlaps the host cluster's hostNetworks\.serviceCidrs\[0\] 10\.96\.0\.0\/12/,
    ],
    [
      'a CIDR with host bits',
      () => parsePlatformConfig({ ...platformInput, nested: { podSubnet: '10.243.1.0/16' } }),
      /host bits set; did you mean 10\.243\.0\.0\/16/,
    ],
    ['a missing operator key', () => parsePlatformConfig({}), /operator: /],
  ];
  for (const [what, run, message] of cases) {
    test(what, () => {
      assert.throws(run, (error: unknown) => {
        assert.ok(error instanceof InvalidInputError, String(error));
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

describe('KubeVirt rules no schema carries', () => {
  test('rendered labs pass', () => {
    for (const workers of [0, 1, 2, 4]) assert.deepEqual(checkKubevirtRules(render({ workers })), []);
  });

  test('Always or RerunOnFailure with a containerDisk is reported: a lost VMI would come back as a fresh cluster', () => {
    const [vm] = byKind(render(), 'VirtualMachine') as Vm[];
    assert.ok(vm);
    for (const strategy of ['Always', 'RerunOnFailure']) {
      const restarting = structuredClone(vm);
      restarting.spec.runStrategy = strategy;
      assert.match(
        checkKubevirtRules([restarting])
          .map((v) => v.rule)
          .join('\n'),
        new RegExp(`runStrategy ${strategy} with a containerDisk`),
      );
    }
    assert.deepEqual(checkKubevirtRules([vm]), []);
  });

  test('a VM the golden image cannot boot is reported: BIOS, or EFI with Secure Boot', () => {
    const [vm] = byKind(render(), 'VirtualMachine') as Vm[];
    assert.ok(vm);
    assert.deepEqual(vm.spec.template.spec.domain.firmware, { bootloader: { efi: { secureBoot: false } } });
    for (const firmware of [undefined, { bootloader: { bios: {} } }, { bootloader: { efi: {} } }]) {
      const unbootable = structuredClone(vm);
      unbootable.spec.template.spec.domain.firmware = firmware;
      assert.match(
        checkKubevirtRules([unbootable])
          .map((v) => v.rule)
          .join('\n'),
        /firmware\.bootloader must be efi with secureBoot: false/,
        JSON.stringify(firmware),
      );
    }
  });

  test('masquerade, a missing runStrategy and oversized inline user-data are reported', () => {
    const [vm] = byKind(render(), 'VirtualMachine') as Vm[];
    assert.ok(vm);
    const broken = structuredClone(vm);
    broken.spec.template.spec.domain.devices.interfaces = [{ name: 'default', masquerade: {} }];
    broken.spec.template.spec.volumes[1] = { name: 'cloud-init', cloudInitNoCloud: { userData: 'x'.repeat(3000) } };
    delete (broken.spec as { runStrategy?: string }).runStrategy;
    const rules = checkKubevirtRules([broken]).map((v) => v.rule);
    assert.equal(rules.length, 3);
    assert.match(rules.join('\n'), /spec\.runStrategy must be set/);
    assert.match(rules.join('\n'), /masquerade on the pod network/);
    assert.match(rules.join('\n'), /3000 bytes of inline user-data; KubeVirt accepts 2048/);
  });
});
