#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
# node ready waiting-reason, one line per kube-proxy pod
proxies=$(kubectl --request-timeout=5s -n kube-system get pods -l k8s-app=kube-proxy -o \
  jsonpath='{range .items[*]}{.spec.nodeName} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].state.waiting.reason}{"\n"}{end}' 2>/dev/null)
if [[ -z $proxies ]]; then
  problem "No kube-proxy pod runs (or the API server does not answer): nothing programs Services on the nodes."
else
  while read -r node ready reason; do
    [[ -n $node ]] || continue
    [[ $ready == true ]] || problem "kube-proxy on $node is not running (${reason:-not ready})."
  done <<<"$proxies"
fi
ip=$(kubectl --request-timeout=5s get svc web -o jsonpath='{.spec.clusterIP}' 2>/dev/null)
if [[ -z $ip ]]; then
  problem "Service web is gone; the goal is to make it answer, not to remove it."
elif ! curl -fsS --max-time 3 "http://$ip/health" >/dev/null 2>&1; then
  problem "Service web ($ip:80) does not answer from cp. After a fix, give kube-proxy a few seconds."
fi
exit $((problems > 0))
