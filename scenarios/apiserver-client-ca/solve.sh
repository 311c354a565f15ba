#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
sed -i 's#--client-ca-file=/etc/kubernetes/pki/ca-2027.crt$#--client-ca-file=/etc/kubernetes/pki/ca.crt#' /etc/kubernetes/manifests/kube-apiserver.yaml
# The API server restarts from its manifest; wait until it answers (seconds on KVM, minutes emulated).
timeout 540 bash -c "until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 3; done"
