#!/usr/bin/env bash
# mmdebstrap customize hook: host settings of every lab node, applied to the root filesystem at
# $1 (not a running system). Kubernetes-version-specific files come later (build.sh).
set -euo pipefail
root=${1:?usage: rootfs-customize.sh <root dir>}
files=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/files

# Everything under files/ lands at the same path in the image.
cp -a --no-preserve=ownership "$files/." "$root/"

echo 'LABEL=root / ext4 defaults,discard,errors=remount-ro 0 1' >"$root/etc/fstab"
# containerd with the systemd cgroup driver (kubelet's default); the sandbox image is set per
# release by build.sh, to the pause image kubeadm pre-pulls.
chroot "$root" containerd config default >"$root/etc/containerd/config.toml"
sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' "$root/etc/containerd/config.toml"
grep -q 'SystemdCgroup = true' "$root/etc/containerd/config.toml"
# Debian ships the CNI plugins in /usr/lib/cni; kubelet, containerd and CNI DaemonSets expect /opt/cni/bin.
install -d "$root/opt/cni/bin"
for plugin in "$root"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/${plugin##*/}" "$root/opt/cni/bin/${plugin##*/}"; done

chroot "$root" systemctl enable systemd-networkd systemd-resolved containerd ssh kubelet >/dev/null
# No clocks or timers phoning out: labs boot offline.
chroot "$root" systemctl disable apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
chroot "$root" passwd --lock root >/dev/null

# A first boot: no host keys (cloud-init installs the lab's pinned one), an empty machine-id.
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
