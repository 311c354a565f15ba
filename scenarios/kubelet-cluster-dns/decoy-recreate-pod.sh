#!/bin/bash
# Wrong fix: recreate the pod. The kubelet on w1 gives the new one the same wrong DNS server.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n tools rollout restart deploy/toolbox >/dev/null
kubectl -n tools rollout status deploy/toolbox --timeout=90s >/dev/null
