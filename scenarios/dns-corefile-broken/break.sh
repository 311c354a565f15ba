#!/bin/bash
# Misspells the cluster zone in the Corefile and restarts CoreDNS.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n kube-system get cm coredns -o yaml | sed 's/kubernetes cluster\.local /kubernetes cluster.locl /' | kubectl replace -f - >/dev/null
kubectl -n kube-system rollout restart deploy coredns >/dev/null
kubectl -n kube-system rollout status deploy coredns --timeout=90s >/dev/null
