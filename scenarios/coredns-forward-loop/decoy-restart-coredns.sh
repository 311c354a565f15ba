#!/bin/bash
# Wrong fix: restart CoreDNS. The new pods get the same resolv.conf and loop again.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n kube-system rollout restart deploy coredns >/dev/null
