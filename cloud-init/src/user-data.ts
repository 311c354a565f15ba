import { basename } from 'node:path';
import { stringify } from 'yaml';
import { kubeadmConfig, kubeadmPatches } from './kubeadm.js';
import { BOOTSTRAP_RESUME_UNIT, BOOTSTRAP_SCRIPT, bootstrapEnv } from './scripts.js';
import { IMAGE_PATHS, type NodeBootstrap } from './types.js';

/** Kernel settings kubeadm's preflight checks and a busy lab want (the image sets them too). */
const SYSCTLS = [
  'net.ipv4.ip_forward = 1',
  'net.bridge.bridge-nf-call-iptables = 1',
  'net.bridge.bridge-nf-call-ip6tables = 1',
  'fs.inotify.max_user_watches = 524288',
  'fs.inotify.max_user_instances = 512',
  'vm.max_map_count = 262144',
];

const LIMITS = [
  '* soft nofile 1048576',
  '* hard nofile 1048576',
  'root soft nofile 1048576',
  'root hard nofile 1048576',
];

/**
 * breakfix's sshd drop-in: root-owned per-user key files next to ~/.ssh. breakfix adds and removes
 * the learner's key there without touching the learner's home (which the learner may break or
 * rewrite). sshd reads it with its defaults, StrictModes on: the directory and file must be
 * root's and writable by root only.
 */
export const SSHD_DROP_IN = {
  path: IMAGE_PATHS.sshdDropIn,
  content: `AuthorizedKeysFile .ssh/authorized_keys ${IMAGE_PATHS.learnerKeysDir}/%u\n`,
} as const;

/**
 * Renders a node's `#cloud-config` user-data (https://cloudinit.readthedocs.io/en/latest/reference/modules.html).
 * It installs the pinned host key (deleting the image's and generating none, so breakfix can pin
 * it), the operator and learner accounts, the CA (before kubeadm runs, so kubeadm reuses it), the kubeadm
 * config, the bootstrap script and the unit that resumes it after a restart, then runs the script.
 * No packages: labs boot offline.
 */
export function renderUserData(node: NodeBootstrap): string {
  const files: { path: string; content: string; permissions: string; owner?: string }[] = [
    { path: '/etc/breakfix/bootstrap.env', content: bootstrapEnv(node), permissions: '0644' },
    { path: IMAGE_PATHS.kubeadmConfig, content: kubeadmConfig(node), permissions: '0600' },
    { path: IMAGE_PATHS.bootstrapScript, content: BOOTSTRAP_SCRIPT, permissions: '0755' },
    { path: IMAGE_PATHS.bootstrapResumeUnit, content: BOOTSTRAP_RESUME_UNIT, permissions: '0644' },
    { path: '/etc/sysctl.d/99-breakfix.conf', content: `${SYSCTLS.join('\n')}\n`, permissions: '0644' },
    { path: '/etc/security/limits.d/99-breakfix.conf', content: `${LIMITS.join('\n')}\n`, permissions: '0644' },
    { ...SSHD_DROP_IN, permissions: '0644' },
  ];
  if (node.role === 'control-plane') {
    files.push(
      ...kubeadmPatches().map((patch) => ({
        path: `${IMAGE_PATHS.kubeadmPatches}/${patch.file}`,
        content: patch.content,
        permissions: '0644',
      })),
    );
  }
  if (node.ca !== undefined) {
    files.unshift(
      { path: '/etc/kubernetes/pki/ca.crt', content: node.ca.certPem, permissions: '0644' },
      { path: '/etc/kubernetes/pki/ca.key', content: node.ca.keyPem, permissions: '0600' },
    );
  }

  const config = {
    hostname: node.hostname,
    manage_etc_hosts: true,
    preserve_hostname: false,
    ssh_pwauth: false,
    disable_root: true,
    ssh_deletekeys: true,
    // Generate only the type we provide, so no other host key exists (the schema wants one entry).
    ssh_genkeytypes: ['ed25519'],
    ssh_keys: { ed25519_private: node.hostKey.privateKey, ed25519_public: node.hostKey.publicKey },
    users: [
      {
        name: node.operator.user,
        gecos: 'breakfix operator',
        groups: ['sudo'],
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        shell: '/bin/bash',
        lock_passwd: true,
        ssh_authorized_keys: [...node.operator.authorizedKeys],
      },
      {
        name: node.learner.user,
        gecos: 'breakfix learner',
        groups: ['sudo'],
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        shell: '/bin/bash',
        lock_passwd: true,
      },
    ],
    write_files: files.map((file) => ({ ...file, owner: 'root:root' })),
    package_update: false,
    package_upgrade: false,
    // sync first: what cloud-init wrote (host keys, CA, configs) survives a crash during the long
    // bootstrap instead of coming back empty; the resume unit covers the bootstrap itself.
    runcmd: [
      ['sync'],
      ['sysctl', '--system'],
      ['systemctl', 'enable', basename(IMAGE_PATHS.bootstrapResumeUnit)],
      [IMAGE_PATHS.bootstrapScript],
    ],
  };
  return `#cloud-config\n${stringify(config, { lineWidth: 0 })}`;
}
