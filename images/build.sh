#!/usr/bin/env bash
# Builds breakfix's golden node image for one Kubernetes release and packs it as a KubeVirt
# containerDisk. Needs a Linux host with KVM and network access (NOT the breakfix CI machines):
#   qemu-system-x86, qemu-utils, cloud-image-utils (cloud-localds), libguestfs-tools (virt-sysprep),
#   and podman or docker.
#
#   images/build.sh v1.36.3 registry.example.com/breakfix/node
#
# Steps: download the Ubuntu 24.04 cloud image -> boot it once under QEMU with provision.sh as
# cloud-init user-data (it installs and pre-pulls everything, then powers off) -> virt-sysprep
# (machine-id, SSH host keys, cloud-init state) -> compress -> containerDisk image -> push.
set -euo pipefail

version=${1:?usage: build.sh <kubernetes version, e.g. v1.36.3> <image repository>}
repository=${2:?usage: build.sh <kubernetes version> <image repository>}
[[ $version =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "version must look like v1.36.3" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${BREAKFIX_IMAGE_WORKDIR:-$here/.work/$version}
ubuntu_image=${UBUNTU_IMAGE_URL:-https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img}
disk_size=${DISK_SIZE:-20G}
engine=${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}
for tool in qemu-system-x86_64 qemu-img cloud-localds virt-sysprep virt-cat curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (see images/README.md)" >&2; exit 1; }
done
[[ -n $engine ]] || { echo "missing podman or docker" >&2; exit 1; }
[[ -w /dev/kvm ]] || { echo "no /dev/kvm: the build boots the image once and needs KVM" >&2; exit 1; }

mkdir -p "$work"
cd "$work"

echo "==> base image"
[[ -f base.img ]] || curl -fL --retry 3 -o base.img "$ubuntu_image"
qemu-img convert -O qcow2 base.img disk.qcow2
qemu-img resize disk.qcow2 "$disk_size"

echo "==> provisioning user-data for Kubernetes $version"
{
  echo '#cloud-config'
  echo 'write_files:'
  echo '  - path: /root/breakfix-provision.sh'
  echo "    permissions: '0755'"
  echo '    content: |'
  sed 's/^/      /' "$here/provision.sh"
  echo 'runcmd:'
  echo "  - [bash, -c, 'K8S_VERSION=$version /root/breakfix-provision.sh > /var/log/breakfix-provision.log 2>&1 && poweroff || { cat /var/log/breakfix-provision.log > /dev/ttyS0; poweroff; }']"
} >user-data
cloud-localds seed.iso user-data

echo "==> booting once to provision (several minutes; serial console in $work/console.log)"
timeout 45m qemu-system-x86_64 -machine accel=kvm -cpu host -smp 2 -m 4096 -nographic \
  -drive file=disk.qcow2,if=virtio -drive file=seed.iso,if=virtio,format=raw \
  -netdev user,id=net0 -device virtio-net-pci,netdev=net0 -serial "file:console.log" -monitor none -display none

echo "==> checking the provisioning result"
virt-cat -a disk.qcow2 /var/lib/breakfix/image-version >image-version ||
  { echo "provisioning failed: see $work/console.log" >&2; exit 1; }
grep -qx "$version" image-version || { echo "image says $(cat image-version), expected $version" >&2; exit 1; }

echo "==> sysprep and compress"
virt-sysprep -a disk.qcow2 --operations machine-id,ssh-hostkeys,logfiles,tmp-files,bash-history,package-manager-cache
qemu-img convert -c -O qcow2 disk.qcow2 node.qcow2

echo "==> containerDisk $repository:$version"
cp "$here/Containerfile" .
"$engine" build -t "$repository:$version" -f Containerfile .
"$engine" push "$repository:$version"
echo "done: $repository:$version ($(du -h node.qcow2 | cut -f1) compressed disk)"
