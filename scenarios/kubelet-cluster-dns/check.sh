#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
dns=$(kubectl --request-timeout=5s -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP}' 2>/dev/null)
if [[ -z $dns ]]; then
  echo "The API server does not answer (or Service kube-dns is gone)."
  exit 1
fi
# What the running kubelet uses, not what its file says: a fix needs a restart to count.
given=$(kubectl --request-timeout=5s get --raw /api/v1/nodes/w1/proxy/configz 2>/dev/null |
  jq -r '.kubeletconfig.clusterDNS // [] | join(" ")' 2>/dev/null)
if [[ -z $given ]]; then
  problem "The kubelet on w1 does not answer (kubectl get --raw /api/v1/nodes/w1/proxy/configz)."
elif [[ " $given " != *" $dns "* ]]; then
  problem "The kubelet on w1 runs with clusterDNS $given; the cluster's DNS Service kube-dns is $dns."
fi
pod=$(kubectl --request-timeout=5s -n tools get pods -l app=toolbox --field-selector=status.phase=Running -o \
  jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null | awk 'NF == 1 {print $1; exit}')
if [[ -z $pod ]]; then
  problem "No toolbox pod runs in namespace tools; the goal is a working one on w1."
else
  # The trailing dot makes the name absolute: one question to the pod's DNS server, no search list.
  answer=$(timeout 12 kubectl --request-timeout=10s -n tools exec "$pod" -- timeout 6 getent hosts kubernetes.default.svc.cluster.local. 2>/dev/null)
  [[ -n $answer ]] || problem "Pod $pod on w1 cannot resolve kubernetes.default.svc.cluster.local."
fi
exit $((problems > 0))
