#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n apps patch role pod-reader --type=json \
  -p '[{"op": "replace", "path": "/rules/0/verbs", "value": ["get", "list", "watch"]}]'
kubectl -n apps patch rolebinding reporter-pod-reader --type=json \
  -p '[{"op": "replace", "path": "/subjects/0/namespace", "value": "monitoring"}]'
for _ in $(seq 15); do
  [[ $(kubectl --request-timeout=5s auth can-i list pods -n apps --as=system:serviceaccount:monitoring:reporter) == yes ]] && exit 0
  sleep 2
done
echo "reporter still may not list pods in apps after 30 s" >&2
exit 1
