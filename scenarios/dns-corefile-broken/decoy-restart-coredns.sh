#!/bin/bash
# Wrong fix: restart CoreDNS without fixing its Corefile; the new pods read the same zone.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n kube-system rollout restart deploy coredns >/dev/null
kubectl -n kube-system rollout status deploy coredns --timeout=90s >/dev/null
