#!/bin/bash
# Pods keep the pull policy they were admitted with: replace them.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl rollout restart deploy/web
kubectl rollout status deploy/web --timeout=150s
