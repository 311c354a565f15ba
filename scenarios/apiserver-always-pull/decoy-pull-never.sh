#!/bin/bash
# Wrong fix: tell the deployment never to pull. Admission still rewrites every new pod to Always.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl patch deploy web --type=json \
  -p '[{"op": "replace", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"}]' >/dev/null
