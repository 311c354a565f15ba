#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n kube-system get cm coredns -o yaml | sed 's/kubernetes cluster\.locl /kubernetes cluster.local /' | kubectl replace -f - >/dev/null
kubectl -n kube-system rollout restart deploy coredns
kubectl -n kube-system rollout status deploy coredns --timeout=120s
