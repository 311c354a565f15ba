#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
kubectl -n apps patch role pod-reader --type=json \
  -p '[{"op": "replace", "path": "/rules/0/verbs", "value": ["get", "list", "watch"]}]'
kubectl -n apps patch rolebinding reporter-pod-reader --type=json \
  -p '[{"op": "replace", "path": "/subjects/0/namespace", "value": "monitoring"}]'
while ((SECONDS < deadline)); do
  [[ $(kubectl --request-timeout=5s auth can-i list pods -n apps --as=system:serviceaccount:monitoring:reporter) == yes ]] && exit 0
  sleep 2
done
echo "reporter still may not list pods in apps after $deadline s" >&2
exit 1
