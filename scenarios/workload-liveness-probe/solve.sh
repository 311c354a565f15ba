#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n payments patch deploy ledger --type=json -p '[
  {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/httpGet/path", "value": "/health"}
]'
kubectl -n payments rollout status deploy/ledger --timeout=170s
