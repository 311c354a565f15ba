#!/bin/bash
# Wrong fix: restart every kube-proxy. The new pods read the same configuration and exit again.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits take what is left of the deadline the runner gave this script (BREAKFIX_TIMEOUT_SECONDS,
# minutes on an emulated lab, 2 on a learner's), less 10 s to report what timed out.
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n kube-system delete pod -l k8s-app=kube-proxy --wait=true --timeout="$(left)" >/dev/null
