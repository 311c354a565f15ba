#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n batch set resources deploy/worker --requests=cpu=100m,memory=64Mi
kubectl -n batch rollout status deploy/worker --timeout=150s
