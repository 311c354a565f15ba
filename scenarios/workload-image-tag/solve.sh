#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl rollout undo deploy/api
kubectl rollout status deploy/api --timeout=120s
