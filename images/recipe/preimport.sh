#!/usr/bin/env bash
# Imports a docker-archive of images into containerd's k8s.io namespace of a node root file
# system, with that root's own containerd running chrooted on the build host: native speed,
# where the same import inside an emulated guest takes many minutes.
#
#   preimport.sh <root dir> <images.tar>
set -euo pipefail
root=${1:?usage: preimport.sh <root dir> <images.tar>}
archive=${2:?usage: preimport.sh <root dir> <images.tar>}
mounts=(proc sys dev run)
containerd_pid=

cleanup() {
  if [[ -n $containerd_pid ]]; then
    kill "$containerd_pid" 2>/dev/null || true
    wait "$containerd_pid" 2>/dev/null || true
  fi
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    mountpoint -q "$root/${mounts[i]}" && umount -l "$root/${mounts[i]}"
  done
  rm -f "$root/tmp/images.tar"
}
trap cleanup EXIT

mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
cp "$archive" "$root/tmp/images.tar"
chroot "$root" /usr/bin/containerd --address /run/containerd/containerd.sock >"$root/run/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 1 100); do
  [[ -S $root/run/containerd/containerd.sock ]] && break
  sleep 0.2
done
chroot "$root" ctr --address /run/containerd/containerd.sock namespaces list >/dev/null ||
  { cat "$root/run/containerd.log" >&2; exit 1; }
chroot "$root" ctr --address /run/containerd/containerd.sock -n k8s.io images import /tmp/images.tar
chroot "$root" ctr --address /run/containerd/containerd.sock -n k8s.io images list -q
