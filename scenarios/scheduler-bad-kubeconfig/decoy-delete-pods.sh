#!/bin/bash
# Wrong fix: delete the Pending pods. Their replacements wait for the same missing scheduler.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl delete pod -l app=web --wait=false >/dev/null
