#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
IFS='|' read -r pressure taints < <(kubectl --request-timeout=5s get node w1 -o \
  jsonpath='{.status.conditions[?(@.type=="DiskPressure")].status}|{.spec.taints[*].key}{"\n"}' 2>/dev/null)
if [[ -z ${pressure:-} ]]; then
  echo "The API server does not answer (or node w1 is gone)."
  exit 1
fi
[[ $pressure == False ]] ||
  problem "Node w1 reports DiskPressure=$pressure. Once the disk has room, the kubelet still keeps the condition for 5 minutes (evictionPressureTransitionPeriod)."
[[ ${taints:-} != *disk-pressure* ]] || problem "Node w1 carries the node.kubernetes.io/disk-pressure taint: no new pod is scheduled there."
available=$(kubectl --request-timeout=5s get deploy web -o jsonpath='{.status.availableReplicas}' 2>/dev/null)
[[ ${available:-0} -ge 2 ]] || problem "Deployment web has ${available:-0} of 2 pods available."
exit $((problems > 0))
