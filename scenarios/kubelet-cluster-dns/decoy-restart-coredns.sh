#!/bin/bash
# Wrong fix: restart CoreDNS. It was fine; pods on w1 do not ask it.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n kube-system rollout restart deploy/coredns >/dev/null
kubectl -n kube-system rollout status deploy/coredns --timeout=90s >/dev/null
