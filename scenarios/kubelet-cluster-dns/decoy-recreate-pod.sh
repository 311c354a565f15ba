#!/bin/bash
# Wrong fix: recreate the pod. The kubelet on w1 gives the new one the same wrong DNS server.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n tools rollout restart deploy/toolbox >/dev/null
kubectl -n tools rollout status deploy/toolbox --timeout="$(left)" >/dev/null
