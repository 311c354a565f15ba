#!/bin/bash
# Wrong fix: delete the restarting pods. Their replacements carry the same liveness probe.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n payments delete pod -l app=ledger --wait=false >/dev/null
