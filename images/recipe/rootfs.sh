#!/usr/bin/env bash
# Builds the node's Debian 13 root filesystem into a directory with mmdebstrap: the packages a
# lab node runs (systemd, cloud-init, OpenSSH, containerd, runc, CNI plugins, the tools learners
# troubleshoot with) and the host settings kubeadm's preflight wants. Kubernetes itself is added
# later by build.sh, from one of the two sources.
#
#   rootfs.sh <out dir>
#   rootfs.sh --print-mirror    the Debian mirror it would use
#   BREAKFIX_DEBIAN_MIRROR   Debian mirror (default: the first one this machine's apt uses)
set -euo pipefail
out=${1:?usage: rootfs.sh <out dir> | --print-mirror}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The mirror this machine already trusts, so the build needs no address of its own.
host_mirror() {
  local uri
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ { print $2; exit } $1 == "deb" { print $3; exit }' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $uri ]] || { echo "rootfs.sh: no Debian mirror configured on this machine; set BREAKFIX_DEBIAN_MIRROR" >&2; exit 1; }
  echo "${uri%/}"
}
mirror=${BREAKFIX_DEBIAN_MIRROR:-$(host_mirror)}
if [[ $out == --print-mirror ]]; then echo "$mirror"; exit 0; fi

packages=(
  # boot, init, network, names
  systemd systemd-sysv systemd-resolved udev dbus linux-image-amd64 initramfs-tools zstd e2fsprogs
  cloud-init openssh-server sudo ca-certificates qemu-guest-agent
  # container runtime and what kubelet, kube-proxy and the CNI call
  containerd runc containernetworking-plugins iptables nftables conntrack ethtool socat kmod iproute2
  # what a learner troubleshoots with
  procps psmisc less vim-tiny bash-completion iputils-ping netcat-openbsd bind9-dnsutils tcpdump jq lsof strace curl
)
rm -rf "$out"
mmdebstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  --components=main --aptopt='Acquire::Retries "3"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="bash $here/rootfs-customize.sh \"\$1\"" \
  trixie "$out" "$mirror"
