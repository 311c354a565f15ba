#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
read -r size avail < <(df -B1 --output=size,avail /var/lib/kubelet | tail -n 1)
free=$((avail * 100 / size))
if ((free < 10)); then
  problem "The filesystem of /var/lib/kubelet on w1 has $free% free ($(numfmt --to=iec "$avail") of $(numfmt --to=iec "$size")); the kubelet evicts pods below 5%."
fi
systemctl is-active --quiet kubelet || problem "The kubelet on w1 is not running."
systemctl is-active --quiet containerd || problem "containerd on w1 is not running."
exit $((problems > 0))
