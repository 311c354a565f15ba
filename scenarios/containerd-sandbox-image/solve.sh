#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl wait --for=condition=Ready node/w1 --timeout=60s
# Stuck pods retry with a growing back-off; new ones start at once.
kubectl delete pod -l app=web --wait=false
kubectl rollout status deploy/web --timeout=100s
