#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
ready=$(kubectl --request-timeout=5s get node w1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
if [[ $ready != True ]]; then
  echo "Node w1 is not Ready (Ready=${ready:-unknown}). After a fix it can take up to a minute."
  exit 1
fi
