import { randomBytes } from 'node:crypto';
import {
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InvalidInputError, UnsupportedEnvironmentError, waitFor } from '@breakfix/core';
import { cleanupStack, guestHandle, untilStarted } from './guest-handle.js';
import { normalizeMac } from './lab-network.js';
import { createNetworkNamespace } from './namespace.js';
import { type ManagedProcess, spawnManaged } from './process.js';
import { accessible, run, TOOLS } from './tools.js';
import type { BootOptions, Vm } from './vm.js';

/**
 * Container nodes (docs/adr/0037): the golden image's root file system booted by systemd-nspawn
 * on the host's kernel instead of a QEMU guest, with the same cloud-init seed, systemd, containerd
 * and kubeadm, on the same lab network (a veth into the lab's bridge instead of a tap, leased by
 * the same dnsmasq), with a disk of its own. Many times faster than an emulated guest; it shares
 * the host's kernel, so faults of the kernel itself (swap, kernel-wide sysctls, modules) need a VM.
 */

export const NSPAWN = { path: '/usr/bin/systemd-nspawn', debian: 'systemd-container' } as const;
const SFDISK = { path: '/usr/sbin/sfdisk', debian: 'fdisk' } as const;
const MKFS_EXT4 = { path: '/usr/sbin/mkfs.ext4', debian: 'e2fsprogs' } as const;

/** The kernel-wide settings the kubelet insists on; a node sees these values, the host keeps its own. */
const KUBELET_KERNEL_SETTINGS = { 'kernel/panic': '10', 'kernel/panic_on_oops': '1', 'vm/overcommit_memory': '1' };

/** Where the node's adaptations live inside its root file system. */
const NODE_DIR = '/etc/breakfix/container-node';

/**
 * Runs inside the node before anything else (a oneshot unit of sysinit.target): gives the node
 * what a VM's own kernel would. Its own cgroup subtree of every v1 controller, writable (the host
 * is cgroup v1 and nspawn mounts the controllers read-only); its network namespace's sysctls
 * writable; a /dev/kmsg for the kubelet; the kernel-wide settings the kubelet checks, as files.
 */
const PREPARE_SCRIPT = `#!/bin/sh
# breakfix container node: what a VM's own kernel would give this node (docs/adr/0037).
set -eu
[ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
for setting in ${Object.keys(KUBELET_KERNEL_SETTINGS).join(' ')}; do
  mount --bind "${NODE_DIR}/sysctl/$(basename "$setting")" "/proc/sys/$setting"
done
# Each v1 controller: bind this node's own cgroup over the controller's mount, writable.
while IFS=: read -r _ controllers path; do
  case "$controllers" in ''|name=*) continue ;; esac
  mountpoint="/sys/fs/cgroup/$controllers"
  [ -d "$mountpoint" ] || continue
  if [ "$path" != / ]; then mount --bind "$mountpoint$path" "$mountpoint"; fi
  mount -o remount,bind,rw "$mountpoint"
done < /proc/1/cgroup
`;

const PREPARE_UNIT = `[Unit]
Description=breakfix container node: cgroups, sysctls and /dev/kmsg a VM would have
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target containerd.service kubelet.service cloud-init-local.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${NODE_DIR}/prepare

[Install]
WantedBy=sysinit.target
`;

/**
 * kubeadm as the node runs it, with what a container node cannot do the VM way: the host's cgroups
 * are v1, which kubelet 1.35+ refuses unless its configuration says `failCgroupV1: false` and
 * kubeadm's preflight refuses (SystemVerification); and kube-proxy must leave the kernel-wide
 * conntrack table size alone (a node's network namespace cannot set it; kind's nodes do the same).
 * The platform's config file is not touched: kubeadm reads an amended copy, and the kubelet's
 * settings reach workers through the cluster's kubelet-config as they do on VMs. Not through
 * /etc/default/kubelet: scenarios break and fix that file.
 */
const KUBEADM_WRAPPER = `#!/bin/sh
# breakfix container node (docs/adr/0037): a cgroup v1 host and a shared kernel.
case "\${1:-}" in
  init|join) ;;
  *) exec /usr/bin/kubeadm "$@" ;;
esac
command=$1
shift
# The preflight flag goes to init and join themselves, not to their phases (most refuse it).
preflight=--ignore-preflight-errors=SystemVerification
[ "\${1:-}" = phase ] && preflight=
amended=
for argument in "$@"; do
  if [ "$amended" = next ]; then
    amended=/run/breakfix-kubeadm.yaml
    awk '{ print }
      /^kind: KubeletConfiguration$/ { print "failCgroupV1: false" }
      /^kind: KubeProxyConfiguration$/ { print "conntrack:"; print "  maxPerCore: 0" }' "$argument" > "$amended"
    set -- "$@" "$amended"
  elif [ "$argument" = --config ]; then
    amended=next
    set -- "$@" --config
  else
    set -- "$@" "$argument"
  fi
  shift
done
exec /usr/bin/kubeadm "$command" "$@" \${preflight:+"$preflight"}
`;

/**
 * Mounts and boots the node in a private mount namespace, so every mount goes when nspawn does:
 * a tmpfs for nspawn's propagation directory (it refuses one on disk); the node's own disk, a
 * sparse ext4 file as large as the image's root partition (so a node that fills its disk fills
 * that, not the host's, and the kubelet sees a node's disk), holding the overlay's upper layer and
 * containerd's store (its overlayfs snapshotter cannot stack on an overlay); the image's root
 * partition read-only under the overlay. The first boot copies containerd's preloaded images and
 * lets containerd clamp OOM scores (the host grants no CAP_SYS_RESOURCE). The node gets its own
 * cgroup in every v1 hierarchy, under ours. Arguments come in the environment.
 */
const LAUNCH_SCRIPT = `set -eu
mkdir -p /run/systemd/nspawn
mount -t tmpfs -o size=1m tmpfs /run/systemd/nspawn
mount -o ro,loop,offset="$CN_OFFSET",sizelimit="$CN_SIZE" "$CN_DISK" "$CN_LOWER"
if [ ! -e "$CN_DATA_DISK" ]; then
  truncate -s "$CN_SIZE" "$CN_DATA_DISK"
  mkfs.ext4 -q -F -L node "$CN_DATA_DISK"
fi
mount -o loop "$CN_DATA_DISK" "$CN_DATA"
CN_UPPER="$CN_DATA/upper" CN_WORK="$CN_DATA/work" CN_CONTAINERD="$CN_DATA/containerd"
mkdir -p "$CN_UPPER" "$CN_WORK" "$CN_CONTAINERD"
cp -a "$CN_FILES/." "$CN_UPPER/"
mount -t overlay overlay -o lowerdir="$CN_LOWER",upperdir="$CN_UPPER",workdir="$CN_WORK" "$CN_ROOT"
if [ ! -e "$CN_CONTAINERD/.copied" ]; then
  cp -a "$CN_LOWER/var/lib/containerd/." "$CN_CONTAINERD/"
  touch "$CN_CONTAINERD/.copied"
fi
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$CN_ROOT/etc/containerd/config.toml"
while IFS=: read -r _ controllers path; do
  [ -n "$controllers" ] || continue
  case "$controllers" in name=systemd) mountpoint=/sys/fs/cgroup/systemd ;; name=*) continue ;; *) mountpoint="/sys/fs/cgroup/$controllers" ;; esac
  [ -d "$mountpoint" ] || continue
  own="$mountpoint\${path%/}/$CN_CGROUP"
  join_cgroup() {
    mkdir -p "$own"
    if [ "$controllers" = cpuset ]; then
      # A v1 cpuset takes no task before it has CPUs and memory nodes: its parent's.
      cat "$mountpoint\${path%/}/cpuset.cpus" > "$own/cpuset.cpus"
      cat "$mountpoint\${path%/}/cpuset.mems" > "$own/cpuset.mems"
    fi
    echo $$ > "$own/cgroup.procs"
  }
  # Twice: another sandbox starting may sweep an empty node cgroup away in between.
  join_cgroup 2>/dev/null || join_cgroup
done < /proc/self/cgroup
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 SYSTEMD_SECCOMP=0
exec ${NSPAWN.path} --quiet --keep-unit --register=no --boot --console=read-only \\
  --directory="$CN_ROOT" --machine="$CN_MACHINE" --hostname="$CN_MACHINE" \\
  --network-namespace-path="$CN_NETNS" --capability=all --property=DeviceAllow='char-* rwm' \\
  --bind="$CN_CONTAINERD:/var/lib/containerd" \\
  systemd.unified_cgroup_hierarchy=0 SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1
`;

export interface ContainerNodeContext {
  dir: string;
  logDir: string;
  /** Host-side name of the node's veth in the lab's namespace (an interface name, ≤ 15 bytes). */
  link: string;
  log: (line: string) => void;
}

/** Fails with what to install when the container node backend cannot run here. */
export function requireContainerNodeTools(): void {
  const missing = [NSPAWN, SFDISK, MKFS_EXT4].filter(({ path }) => !accessible(path, constants.X_OK));
  if (missing.length > 0) {
    throw new UnsupportedEnvironmentError(`container nodes need ${missing.map((tool) => tool.path).join(', ')}`, {
      hint: `run \`npm run deps\` or apt-get install -y ${missing.map((tool) => tool.debian).join(' ')}`,
    });
  }
}

/** The byte range of the partition labelled `root` (images/build.sh's layout) in a raw disk. */
export async function rootPartition(disk: string): Promise<{ offset: number; size: number }> {
  const table = JSON.parse(await run(SFDISK.path, ['--json', disk])) as {
    partitiontable?: { sectorsize?: number; partitions?: { start: number; size: number; name?: string }[] };
  };
  const sector = table.partitiontable?.sectorsize ?? 512;
  const root = table.partitiontable?.partitions?.find((partition) => partition.name === 'root');
  if (root === undefined) throw new InvalidInputError(`${disk} has no partition named root`);
  return { offset: root.start * sector, size: root.size * sector };
}

/** Boots a lab node as a container node; the handle is a VM's, so nothing above can tell them apart. */
export async function bootContainerNode(context: ContainerNodeContext, options: BootOptions): Promise<Vm> {
  const { network, name, image } = options;
  requireContainerNodeTools();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name))
    throw new InvalidInputError(`node name ${name} is not a DNS label`);
  const disk = resolve(image.raw ?? '');
  if (image.raw === undefined || !existsSync(disk)) {
    throw new InvalidInputError(`container nodes boot the golden image's raw disk; image ${image.disk} names none`);
  }
  const { dir, link } = context;
  const mac = normalizeMac(options.mac ?? randomMac());
  rmSync(dir, { recursive: true, force: true });
  const paths = {
    lower: join(dir, 'lower'),
    files: join(dir, 'files'),
    data: join(dir, 'data'),
    root: join(dir, 'root'),
  };
  for (const path of Object.values(paths)) mkdirSync(path, { recursive: true });
  mkdirSync(context.logDir, { recursive: true });
  const consoleLog = join(context.logDir, `${name}.console.log`);
  rmSync(consoleLog, { force: true });

  const cleanups = cleanupStack(`node ${name}`, context.log);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  try {
    const partition = await rootPartition(disk);
    writeNodeFiles(paths.files, containerNodeFiles(options.seed, mac));

    // The node's own network namespace, joined to the lab's bridge by a veth whose node end is
    // eth0 with the MAC the lab's DHCP knows: the node's NIC, as the tap is a VM's.
    const nodeNetwork = await createNetworkNamespace(`node-${name}`, dir);
    cleanups.push(() => nodeNetwork.stop());
    const ns = network.namespace;
    await ns.run(TOOLS.ip.path, [
      'link',
      'add',
      link,
      'mtu',
      String(network.mtu),
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'address',
      mac,
      'mtu',
      String(network.mtu),
      'netns',
      String(nodeNetwork.pid),
    ]);
    cleanups.push(() => ns.run(TOOLS.ip.path, ['link', 'delete', link]).then(() => undefined));
    await ns.run(TOOLS.ip.path, ['link', 'set', link, 'master', network.bridge, 'up']);

    const plannedAddress = network.addHost(name, mac);
    cleanups.push(() => network.removeHost(mac));

    const cgroup = `breakfix-${name}`;
    cleanups.push(() => removeCgroups(cgroup, context.log));
    const nspawn: ManagedProcess = spawnManaged(
      `node-${name}`,
      TOOLS.unshare.path,
      // A PID namespace whose first process is the launcher (then nspawn): when unshare dies, even
      // by SIGKILL through our pdeathsig, --kill-child kills that process, and with it everything
      // in the namespace, the node's systemd and kubelet included. Without it a killed sandbox
      // left its container nodes running. /proc stays the host's: nspawn joins the node's network
      // namespace by a host pid's /proc path.
      [
        '--mount',
        '--propagation',
        'private',
        '--pid',
        '--fork',
        '--kill-child=SIGKILL',
        '--',
        '/bin/sh',
        '-c',
        LAUNCH_SCRIPT,
      ],
      {
        logFile: consoleLog,
        env: {
          PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
          CN_DISK: disk,
          CN_OFFSET: String(partition.offset),
          CN_SIZE: String(partition.size),
          CN_LOWER: paths.lower,
          CN_FILES: paths.files,
          CN_DATA: paths.data,
          CN_DATA_DISK: join(dir, 'node-disk.ext4'),
          CN_ROOT: paths.root,
          CN_CGROUP: cgroup,
          CN_MACHINE: name,
          CN_NETNS: nodeNetwork.path,
        },
      },
    );
    cleanups.push(() => nspawn.stop(60_000));
    context.log(
      `node ${name}: systemd-nspawn pid ${nspawn.pid}, mac ${mac}, will lease ${plannedAddress} on ${network.id}`,
    );

    // The node has booted once its systemd runs in the root we mounted (seconds, not minutes).
    await untilStarted({
      process: nspawn,
      what: `container node ${name} to start systemd`,
      ready: async () => (readFileSync(consoleLog, 'utf8').includes('systemd') ? true : undefined),
      exited: (code) => `container node ${name} exited with ${code} while starting: ${tail(consoleLog)}`,
    });

    return await guestHandle({
      label: `node ${name}`,
      options,
      network,
      process: nspawn,
      mac,
      plannedAddress,
      consoleLog,
      logDir: context.logDir,
      cleanups,
      log: context.log,
    });
  } catch (error) {
    await cleanups.run();
    throw error;
  }
}

/** A file a container node gets on top of the image: content with a mode, or a symbolic link. */
export type NodeFile = { content: string; mode: number } | { symlink: string };

/**
 * What the node's root file system gets on top of the image, in the overlay's upper directory:
 * the NoCloud seed where cloud-init's ds-identify finds it (a VM reads it from the seed ISO), and
 * the container node's adaptations (the prepare unit, enabled; the kernel settings as files; the
 * kubeadm wrapper). By absolute path in the node.
 */
export function containerNodeFiles(seed: BootOptions['seed'], mac: string): Map<string, NodeFile> {
  const files = new Map<string, NodeFile>();
  const file = (path: string, content: string, mode = 0o644) => files.set(path, { content, mode });
  const nocloud = '/var/lib/cloud/seed/nocloud';
  file(`${nocloud}/user-data`, seed.userData, 0o600);
  file(`${nocloud}/meta-data`, seed.metaData, 0o600);
  // cloud-init's fallback (DHCP on the first NIC) skips a veth, which has no device behind it:
  // without network data of the VM's own, the node is told what a VM would have done by itself.
  file(
    `${nocloud}/network-config`,
    seed.networkData ?? `version: 2\nethernets:\n  eth0:\n    match:\n      macaddress: "${mac}"\n    dhcp4: true\n`,
    0o600,
  );
  file(`${NODE_DIR}/prepare`, PREPARE_SCRIPT, 0o755);
  for (const [setting, value] of Object.entries(KUBELET_KERNEL_SETTINGS)) {
    file(`${NODE_DIR}/sysctl/${setting.slice(setting.lastIndexOf('/') + 1)}`, `${value}\n`);
  }
  file('/etc/systemd/system/breakfix-container-node.service', PREPARE_UNIT);
  files.set('/etc/systemd/system/sysinit.target.wants/breakfix-container-node.service', {
    symlink: '../breakfix-container-node.service',
  });
  file('/usr/local/bin/kubeadm', KUBEADM_WRAPPER, 0o755);
  return files;
}

function writeNodeFiles(staging: string, files: Map<string, NodeFile>): void {
  for (const [path, file] of files) {
    const target = join(staging, path);
    mkdirSync(dirname(target), { recursive: true });
    rmSync(target, { force: true });
    if ('symlink' in file) symlinkSync(file.symlink, target);
    else writeFileSync(target, file.content, { mode: file.mode });
  }
}

/**
 * Removes the node's cgroups (deepest first) once nothing runs in them: the node's last processes
 * can take a moment to be reaped after nspawn exits, so it tries for up to 10 s, then says what
 * it left.
 */
async function removeCgroups(cgroup: string, log: (line: string) => void): Promise<void> {
  const dirs = ownCgroupDirs().map((dir) => join(dir, cgroup));
  const left = () => dirs.filter((dir) => existsSync(dir));
  await waitFor(
    async () => {
      for (const dir of left()) {
        await run('/usr/bin/find', [dir, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']).catch(() => undefined);
      }
      return left().length === 0 ? true : undefined;
    },
    { what: `the cgroups of container node ${cgroup} to empty`, timeoutMs: 10_000, intervalMs: 500 },
  ).catch(() => log(`container node cgroups left behind: ${left().join(', ')}`));
}

/** Our own cgroup in each v1 hierarchy (name=systemd included): where node cgroups are made. */
function ownCgroupDirs(): string[] {
  const dirs: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || controllers === '' || path === undefined) continue;
    if (controllers.startsWith('name=') && controllers !== 'name=systemd') continue;
    dirs.push(join('/sys/fs/cgroup', controllers === 'name=systemd' ? 'systemd' : controllers, path));
  }
  return dirs;
}

/**
 * Removes the cgroups container nodes of a sandbox that was killed left behind (nothing removed
 * them): only whole trees without a single process, so a node another sandbox runs is never
 * touched.
 */
export async function sweepNodeCgroups(log: (line: string) => void): Promise<void> {
  for (const parent of ownCgroupDirs()) {
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent)) {
      if (!entry.startsWith('breakfix-')) continue;
      const tree = join(parent, entry);
      const procs = (await run('/usr/bin/find', [tree, '-name', 'cgroup.procs', '-exec', 'cat', '{}', '+'])).trim();
      if (procs !== '') continue;
      await run('/usr/bin/find', [tree, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']).catch(() => undefined);
      log(`removed the cgroup ${tree} a stopped container node left`);
    }
  }
}

function randomMac(): string {
  const bytes = randomBytes(3);
  return `52:54:00:${[...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(':')}`;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return `(no ${file})`;
  }
}
