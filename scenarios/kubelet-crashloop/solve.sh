#!/bin/bash
set -euo pipefail
sed -i 's/--max-pods=lots//' /etc/default/kubelet
systemctl restart kubelet
export KUBECONFIG=/etc/kubernetes/admin.conf
for _ in $(seq 60); do
  if [[ $(kubectl get node cp -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; then
    exit 0
  fi
  sleep 2
done
echo "node cp did not become Ready within 120 s" >&2
exit 1
