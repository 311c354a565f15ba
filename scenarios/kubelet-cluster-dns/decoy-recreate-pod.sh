#!/bin/bash
# Wrong fix: recreate the pod. The kubelet on w1 gives the new one the same wrong DNS server.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits take what is left of the deadline the runner gave this script (BREAKFIX_TIMEOUT_SECONDS,
# minutes on an emulated lab, 2 on a learner's), less 10 s to report what timed out.
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n tools rollout restart deploy/toolbox >/dev/null
kubectl -n tools rollout status deploy/toolbox --timeout="$(left)" >/dev/null
