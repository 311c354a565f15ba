#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
sed -i 's#--cert-file=/etc/kubernetes/pki/etcd/server-2027.crt$#--cert-file=/etc/kubernetes/pki/etcd/server.crt#' /etc/kubernetes/manifests/etcd.yaml
# The API server restarts from its manifest; wait until it answers.
timeout "$(left)" bash -c "until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 3; done"
