#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
available=$(kubectl --request-timeout=5s get deploy web -o jsonpath='{.status.availableReplicas}' 2>/dev/null)
if [[ ${available:-0} -lt 2 ]]; then
  echo "Deployment web has ${available:-0} of 2 pods available."
  kubectl --request-timeout=5s get pods -l app=web --no-headers 2>/dev/null | awk '$3 != "Running" {print "Pod " $1 " is " $3 "."}' | sed -n 1,3p
  exit 1
fi
