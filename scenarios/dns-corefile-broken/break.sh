#!/bin/bash
# Misspells the cluster zone in the Corefile and restarts CoreDNS.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits take what is left of the deadline the runner gave this script (BREAKFIX_TIMEOUT_SECONDS,
# minutes on an emulated lab, 2 on a learner's), less 10 s to report what timed out.
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n kube-system get cm coredns -o yaml | sed 's/kubernetes cluster\.local /kubernetes cluster.locl /' | kubectl replace -f - >/dev/null
kubectl -n kube-system rollout restart deploy coredns >/dev/null
kubectl -n kube-system rollout status deploy coredns --timeout="$(left)" >/dev/null
