#!/bin/bash
set -euo pipefail
for config in /etc/kubernetes/admin.conf /root/.kube/config /home/*/.kube/config; do
  [[ -f $config ]] || continue
  sed -i 's#^\(\s*server: https://[^ ]*\):8443$#\1:6443#' "$config"
done
kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw=/readyz >/dev/null
