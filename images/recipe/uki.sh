#!/usr/bin/env bash
# Makes the node's unified kernel image (UKI): systemd's EFI stub carrying the node's kernel, its
# initramfs, its os-release and the kernel command line, one PE file that UEFI firmware starts
# with no boot loader and no boot entries (docs/adr/0020). Built with `ukify` from Debian 13's
# systemd-ukify and systemd-boot-efi, run chrooted in a small tools root (cached at <tools dir>)
# rather than installed into the node: the node boots the UKI, it never makes one.
#
#   uki.sh <tools dir> <node root> <cmdline> <out.efi>
#   BREAKFIX_DEBIAN_MIRROR   Debian mirror (default: the one rootfs.sh uses)
set -euo pipefail
tools=${1:?usage: uki.sh <tools dir> <node root> <cmdline> <out.efi>}
root=${2:?usage: uki.sh <tools dir> <node root> <cmdline> <out.efi>}
cmdline=${3:?usage: uki.sh <tools dir> <node root> <cmdline> <out.efi>}
out=${4:?usage: uki.sh <tools dir> <node root> <cmdline> <out.efi>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ! -x $tools/usr/bin/ukify ]]; then
  rm -rf "$tools.tmp"
  mmdebstrap --variant=minbase --include=systemd-ukify,systemd-boot-efi --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    trixie "$tools.tmp" "$(bash "$here/rootfs.sh" --print-mirror)"
  rm -rf "$tools"
  mv "$tools.tmp" "$tools"
fi

kernel=$(find "$root/boot" -name 'vmlinuz-*' | sort | tail -n 1)
release=${kernel##*/vmlinuz-}
work=$(mktemp -d "$tools/tmp/uki.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$kernel" "$work/vmlinuz"
cp "$root/boot/initrd.img-$release" "$work/initrd.img"
cp -L "$root/etc/os-release" "$work/os-release"
inside=/tmp/${work##*/}
chroot "$tools" ukify build --linux="$inside/vmlinuz" --initrd="$inside/initrd.img" --cmdline="$cmdline" \
  --os-release="@$inside/os-release" --uname="$release" --output="$inside/uki.efi"
mv "$work/uki.efi" "$out"
