#!/bin/bash
# Misspells the cluster zone in the Corefile and restarts CoreDNS.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n kube-system get cm coredns -o yaml | sed 's/kubernetes cluster\.local /kubernetes cluster.locl /' | kubectl replace -f - >/dev/null
kubectl -n kube-system rollout restart deploy coredns >/dev/null
kubectl -n kube-system rollout status deploy coredns --timeout="$(left)" >/dev/null
