#!/bin/bash
# Wrong fix: restart every kube-proxy. The new pods read the same configuration and exit again.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n kube-system delete pod -l k8s-app=kube-proxy --wait=true --timeout="$(left)" >/dev/null
