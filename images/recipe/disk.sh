#!/usr/bin/env bash
# Makes the node's disk the way UEFI firmware (KubeVirt's `efi` bootloader, OVMF) boots it: a GPT
# with an EFI system partition holding the unified kernel image at the removable-media path
# \EFI\BOOT\BOOTX64.EFI (no boot entries needed), and the ext4 root labelled `root`, so the same
# disk also boots directly with root=LABEL=root. No loop devices and no mounts: sfdisk writes the
# table into the file, mkfs.ext4 and mkfs.vfat write their file systems at the partitions'
# offsets, mtools copies onto the FAT.
#
#   disk.sh <node root> <uki.efi> <disk.raw> <size, e.g. 12G>
set -euo pipefail
root=${1:?usage: disk.sh <node root> <uki.efi> <disk.raw> <size>}
uki=${2:?usage: disk.sh <node root> <uki.efi> <disk.raw> <size>}
disk=${3:?usage: disk.sh <node root> <uki.efi> <disk.raw> <size>}
size=${4:?usage: disk.sh <node root> <uki.efi> <disk.raw> <size>}

# 512-byte sectors, partitions on 1 MiB boundaries; the last MiB is left to the backup GPT.
ESP_START=2048
ESP_SECTORS=262144 # 128 MiB: the UKI is ~50 MB, room for a second one
ROOT_START=$((ESP_START + ESP_SECTORS))
rm -f "$disk"
truncate -s "$size" "$disk"
total=$(($(stat -c %s "$disk") / 512))
root_sectors=$((total - ROOT_START - 2048))
sfdisk --quiet "$disk" <<EOF
label: gpt
first-lba: $ESP_START
start=$ESP_START, size=$ESP_SECTORS, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
start=$ROOT_START, size=$root_sectors, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
EOF

mkfs.ext4 -q -F -L root -b 4096 -E "offset=$((ROOT_START * 512)),nodiscard" -d "$root" "$disk" "$((root_sectors / 8))"
# FAT32 needs at least 65525 clusters: one sector per cluster gives 128 MiB ~258000.
# (It warns that the file is larger than the file system: meant, so only a failure is shown.)
vfat_log=$(mkfs.vfat -F 32 -s 1 -n ESP --offset "$ESP_START" "$disk" "$((ESP_SECTORS / 2))" 2>&1) ||
  { echo "$vfat_log" >&2; exit 1; }
esp="$disk@@$((ESP_START * 512))"
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT
mcopy -i "$esp" "$uki" ::/EFI/BOOT/BOOTX64.EFI
sfdisk --verify --quiet "$disk"
