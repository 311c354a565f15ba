#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
manifest=/etc/kubernetes/manifests/kube-controller-manager.yaml
controllers=$(grep -o -- '--controllers=[^ ]*' "$manifest" | cut -d= -f2)
if [[ ,$controllers, == *,-deployment*,* ]]; then
  problem "kube-controller-manager still starts with a controller switched off (--controllers=$controllers): the next Deployment would be stuck too."
fi
ready=$(kubectl --request-timeout=5s -n kube-system get pod kube-controller-manager-cp -o jsonpath='{.status.containerStatuses[0].ready}' 2>/dev/null)
[[ $ready == true ]] || problem "The kube-controller-manager pod on cp is not ready."
IFS='|' read -r replicas available < <(kubectl --request-timeout=5s get deploy web -o \
  jsonpath='{.spec.replicas}|{.status.availableReplicas}{"\n"}' 2>/dev/null)
if [[ -z ${replicas:-} ]]; then
  problem "Deployment web is gone (or the API server does not answer); the goal is to get it running, not to remove it."
  exit 1
fi
[[ $replicas -ge 2 ]] || problem "Deployment web asks for $replicas replicas; it should run 2."
rs=$(kubectl --request-timeout=5s get rs -l app=web --no-headers 2>/dev/null | wc -l)
[[ $rs -gt 0 ]] || problem "Deployment web has no ReplicaSet yet."
[[ ${available:-0} -ge 2 ]] || problem "Deployment web has ${available:-0} of 2 pods available."
exit $((problems > 0))
