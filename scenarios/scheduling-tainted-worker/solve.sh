#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl taint node w1 maintenance- 2>/dev/null || true
kubectl rollout status deploy/web --timeout=120s
