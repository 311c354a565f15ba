#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
taints=$(kubectl --request-timeout=5s get node w1 -o jsonpath='{range .spec.taints[*]}{.key}={.value}:{.effect} {end}')
[[ $taints != *NoSchedule* ]] || problem "Node w1 still has a NoSchedule taint: $taints"
if [[ -n $(kubectl --request-timeout=5s get deploy web -o jsonpath='{.spec.template.spec.tolerations}') ]]; then
  problem "The web deployment was changed to tolerate the taint; fix the node instead."
fi
# Pods on their way out (a previous web's, deleted by the break) still say Running: count live ones.
running=$(kubectl --request-timeout=5s get pods -l app=web -o \
  jsonpath='{range .items[*]}{.status.phase} {.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null |
  awk '$1 == "Running" && $2 == "w1" && $3 == "" { n++ } END { print n + 0 }')
[[ $running -ge 2 ]] || problem "$running of 2 web pods run on w1."
exit $((problems > 0))
