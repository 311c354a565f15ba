#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
sed -i 's#--cert-file=/etc/kubernetes/pki/etcd/server-2027.crt$#--cert-file=/etc/kubernetes/pki/etcd/server.crt#' /etc/kubernetes/manifests/etcd.yaml
# The API server restarts from its manifest; wait until it answers.
timeout 540 bash -c "until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 3; done"
