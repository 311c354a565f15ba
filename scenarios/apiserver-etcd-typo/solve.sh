#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
sed -i 's#--etcd-servers=https://127.0.0.1:2739$#--etcd-servers=https://127.0.0.1:2379#' /etc/kubernetes/manifests/kube-apiserver.yaml
# The API server restarts from its manifest; wait until it answers.
timeout 540 bash -c "until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 3; done"
