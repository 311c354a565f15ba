#!/bin/bash
# A "debug log" grows until the root filesystem has 2% left: below the kubelet's hard eviction
# threshold (nodefs.available 5%), above what root needs to keep the node running (ext4 keeps
# 5% more for root). fallocate takes no time whatever the size. Run twice, it only tops up.
set -euo pipefail
file=/var/log/app/debug.log
mkdir -p "${file%/*}"
read -r size avail < <(df -B1 --output=size,avail /var/lib/kubelet | tail -n 1)
keep=$((size / 50))
if ((avail > keep)); then
  have=$(stat -c %s "$file" 2>/dev/null || echo 0)
  fallocate -o "$have" -l "$((avail - keep))" "$file"
fi
