#!/bin/bash
# Wrong fix: give the probe more time. It fails later, but it still asks for a path that is not there.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n payments patch deploy ledger --type=json -p '[
  {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/initialDelaySeconds", "value": 30},
  {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/failureThreshold", "value": 10}
]' >/dev/null
