#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n finance set resources deploy/reports --requests=memory=128Mi
kubectl -n finance rollout status deploy/reports --timeout=120s
