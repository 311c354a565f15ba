#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
config=/var/lib/kubelet/config.yaml
ca=$(sed -n 's/^\s*clientCAFile:\s*//p' "$config" | sed -n 1p)
if [[ -z $ca ]]; then
  problem "$config has no clientCAFile: the kubelet would accept no client certificates."
elif [[ ! -f $ca ]]; then
  problem "$config names clientCAFile $ca, which does not exist on w1."
elif ! cmp -s "$ca" /etc/kubernetes/pki/ca.crt; then
  problem "clientCAFile $ca is not the cluster CA (/etc/kubernetes/pki/ca.crt)."
fi
systemctl is-active --quiet kubelet || problem "The kubelet on w1 is not running."
exit $((problems > 0))
