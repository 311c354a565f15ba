import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseAccelerator, dnsmasqArgs, parseAcceleratorChoice, parseLeases, qemuArgs } from '../src/index.js';
import { withPanicReboot } from '../src/vm.js';

describe('accelerator choice', () => {
  const probe = (modules: string[], usable = true) => ({
    exists: (path: string) => modules.some((module) => path === `/sys/module/${module}`),
    kvmUsable: () => usable,
  });
  const cases: [string, string[], boolean, 'kvm' | 'tcg'][] = [
    ['VMX host', ['kvm', 'kvm_intel'], true, 'kvm'],
    ['SVM host', ['kvm', 'kvm_amd'], true, 'kvm'],
    ['PVM host (Firecracker): stock kernels hang', ['kvm', 'kvm_pvm'], true, 'tcg'],
    ['kvm_intel beside kvm_pvm', ['kvm', 'kvm_intel', 'kvm_pvm'], true, 'tcg'],
    ['no /dev/kvm access', ['kvm', 'kvm_intel'], false, 'tcg'],
    ['no KVM at all', [], false, 'tcg'],
  ];
  for (const [name, modules, usable, expected] of cases) {
    test(`auto on a ${name} -> ${expected}`, () => {
      assert.equal(chooseAccelerator('auto', probe(modules, usable)), expected);
    });
  }
  test('an explicit choice wins; the env value is parsed', () => {
    assert.equal(chooseAccelerator('kvm', probe([])), 'kvm');
    assert.equal(parseAcceleratorChoice(undefined), 'auto');
    assert.equal(parseAcceleratorChoice('tcg'), 'tcg');
    assert.throws(() => parseAcceleratorChoice('hvf'), /not kvm, tcg or auto/);
  });
});

test('the QEMU command line: tap networking only, qemu64 under TCG, direct kernel boot', () => {
  const args = qemuArgs({
    name: 'cp',
    accelerator: 'tcg',
    cpus: 2,
    memoryMiB: 3072,
    overlay: '/w/cp/disk.qcow2',
    seedIso: '/w/cp/seed.iso',
    tap: 'tap0',
    mac: '52:54:00:00:00:01',
    consoleLog: '/w/log/cp.console.log',
    qmpSocket: '/w/cp/qmp.sock',
    kernel: { kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'root=LABEL=root ro console=ttyS0' },
  });
  const line = args.join(' ');
  assert.ok(args.includes('-nodefaults'), 'no default (user-mode) NIC');
  assert.doesNotMatch(line, /(^|[ ,=])user([ ,]|$)|slirp|hostfwd|-nic /);
  assert.match(line, /-netdev tap,id=n0,ifname=tap0,script=no,downscript=no/);
  assert.match(line, /-device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01/);
  assert.match(line, /-accel tcg,thread=multi -cpu qemu64/);
  assert.doesNotMatch(line, /-cpu max/);
  assert.match(line, /-kernel \/img\/vmlinuz -initrd \/img\/initrd.img -append root=LABEL=root ro console=ttyS0/);
  assert.match(line, /-serial file:\/w\/log\/cp.console.log -display none|-display none/);
  assert.match(line, /file=\/w\/cp\/seed.iso,if=none,id=cidata,format=raw,readonly=on/);
  assert.ok(args.includes('virtio-rng-pci'));
  assert.match(qemuArgs({ ...baseKvm() }).join(' '), /-accel kvm -cpu host/);
});

test('UEFI: OVMF as pflash, its code read-only and the VM’s own variable store; the disk boots itself', () => {
  const efi = { code: '/fw/OVMF_CODE_4M.fd', vars: '/w/w1/efi-vars.fd', secureBoot: false };
  const line = qemuArgs({ ...baseKvm(), efi }).join(' ');
  assert.match(line, /-drive if=pflash,format=raw,unit=0,readonly=on,file=\/fw\/OVMF_CODE_4M.fd/);
  assert.match(line, /-drive if=pflash,format=raw,unit=1,file=\/w\/w1\/efi-vars.fd/);
  assert.doesNotMatch(line, /-kernel|-append|-bios/);
  assert.match(line, /virtio-blk-pci,drive=disk0,bootindex=1/);
  assert.doesNotMatch(line, /smm=on|property=secure/);
  assert.doesNotMatch(qemuArgs(baseKvm()).join(' '), /pflash/, 'SeaBIOS unless asked');
  // Secure Boot firmware keeps its variables behind SMM
  const secure = qemuArgs({ ...baseKvm(), efi: { ...efi, secureBoot: true } }).join(' ');
  assert.match(secure, /-machine q35,smm=on/);
  assert.match(secure, /-global driver=cfi.pflash01,property=secure,value=on/);
});

function baseKvm() {
  return {
    name: 'w1',
    accelerator: 'kvm' as const,
    cpus: 1,
    memoryMiB: 1024,
    overlay: 'o',
    seedIso: 's',
    tap: 'tap1',
    mac: '52:54:00:00:00:02',
    consoleLog: 'c',
    qmpSocket: 'q',
  };
}

test('dnsmasq: lab names only, static leases, KubeVirt-shaped options', () => {
  const args = dnsmasqArgs({
    bridge: 'br0',
    network: '10.200.3.0',
    gateway: '10.200.3.1',
    mtu: 1450,
    searchDomains: ['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
    files: { pidFile: 'p', logFile: 'l', leaseFile: 'le', hostsFile: 'h', dnsHostsFile: 'd' },
  });
  for (const expected of [
    '--no-resolv',
    '--no-hosts',
    '--local=/#/',
    '--conf-file=/dev/null',
    '--interface=br0',
    '--bind-interfaces',
    '--dhcp-range=10.200.3.0,static,255.255.255.0,infinite',
    '--dhcp-option=option:router,10.200.3.1',
    '--dhcp-option=option:dns-server,10.200.3.1',
    '--dhcp-option-force=option:mtu,1450',
    '--dhcp-option-force=option:domain-search,ns.svc.cluster.local,svc.cluster.local,cluster.local',
  ]) {
    assert.ok(args.includes(expected), expected);
  }
  assert.ok(!args.some((arg) => arg.startsWith('--server')), 'no upstream');
});

test('lease file lines become leases', () => {
  assert.deepEqual(parseLeases('0 52:54:00:AA:00:01 10.200.0.2 cp 01:52:54:00:aa:00:01\n\n'), [
    { mac: '52:54:00:aa:00:01', address: '10.200.0.2', hostname: 'cp' },
  ]);
});

describe('guest kernel command line', () => {
  test('a panicking guest reboots itself unless the image chose otherwise', () => {
    assert.equal(withPanicReboot('root=LABEL=root ro console=ttyS0'), 'root=LABEL=root ro console=ttyS0 panic=10');
    assert.equal(withPanicReboot('root=LABEL=root panic=0'), 'root=LABEL=root panic=0');
    assert.equal(withPanicReboot('root=LABEL=root oops=panic'), 'root=LABEL=root oops=panic panic=10');
  });
});
