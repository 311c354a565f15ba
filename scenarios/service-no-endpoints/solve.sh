#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n store patch svc shop --type=json -p '[
  {"op": "replace", "path": "/spec/selector", "value": {"app": "shop", "tier": "web"}},
  {"op": "replace", "path": "/spec/ports/0/targetPort", "value": 8080}
]'
ip=$(kubectl -n store get svc shop -o jsonpath='{.spec.clusterIP}')
timeout "$(left)" bash -c "until curl -fsS --max-time 2 http://$ip/health >/dev/null 2>&1; do sleep 2; done"
