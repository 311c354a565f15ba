#!/bin/bash
# Wrong fix: grant read access where the ServiceAccount lives (monitoring) instead of where the
# pods it watches are (apps).
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n monitoring create rolebinding reporter-view --clusterrole=view \
  --serviceaccount=monitoring:reporter --dry-run=client -o yaml | kubectl apply -f - >/dev/null
