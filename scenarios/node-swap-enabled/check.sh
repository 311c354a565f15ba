#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
active=$(swapon --show=NAME --noheadings)
[[ -z $active ]] || problem "Swap is still on: $(echo "$active" | tr '\n' ' ')"
if grep -Eq '^[^#]\S*\s+\S+\s+swap\s' /etc/fstab; then
  problem "/etc/fstab still turns swap on at boot: $(grep -E '^[^#]\S*\s+\S+\s+swap\s' /etc/fstab | sed -n 1p)"
fi
systemctl is-active --quiet kubelet || problem "The kubelet on cp is not running (systemctl status kubelet)."
ready=$(kubectl --request-timeout=5s get node cp -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
[[ $ready == True ]] || problem "Node cp is not Ready yet (Ready=${ready:-unknown}); it can take a minute after the kubelet starts."
exit $((problems > 0))
