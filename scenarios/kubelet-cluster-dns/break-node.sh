#!/bin/bash
# Gives w1's kubelet another cluster's DNS address (10.96.0.10, kubeadm's default service range)
# and restarts it: every pod it starts from now on asks a DNS server that does not exist here.
set -euo pipefail
config=/var/lib/kubelet/config.yaml
state=/var/lib/breakfix/kubelet-cluster-dns.orig
mkdir -p "${state%/*}"
current=$(sed -n '/^clusterDNS:/{n;s/^- *//p}' "$config")
[[ -f $state ]] || echo "$current" >"$state"
wrong=10.96.0.10
[[ $(cat "$state") != "$wrong" ]] || wrong=10.32.0.10
if [[ $current != "$wrong" ]]; then
  sed -i "/^clusterDNS:/{n;s/^- .*/- $wrong/}" "$config"
  systemctl restart kubelet
fi
[[ $(sed -n '/^clusterDNS:/{n;s/^- *//p}' "$config") == "$wrong" ]]
