#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl wait --for=condition=DiskPressure=False node/w1 --timeout=100s
kubectl rollout status deploy/web --timeout=70s
