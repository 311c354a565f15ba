#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
image=$(kubectl --request-timeout=5s get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null)
if [[ -z $image ]]; then
  echo "Deployment web is gone (or the API server does not answer); the goal is to get it available."
  exit 1
fi
# What admission does to a new pod that asks for IfNotPresent, without creating one.
policy=$(kubectl --request-timeout=5s run admission-probe --image="$image" --image-pull-policy=IfNotPresent \
  --dry-run=server -o jsonpath='{.spec.containers[0].imagePullPolicy}' 2>/dev/null)
if [[ $policy != IfNotPresent ]]; then
  plugins=$(grep -o -- '--enable-admission-plugins=[^ ]*' /etc/kubernetes/manifests/kube-apiserver.yaml | cut -d= -f2)
  problem "A new pod that asks for imagePullPolicy IfNotPresent is admitted with ${policy:-no answer}; the API server's admission plugins are ${plugins:-unknown}."
fi
IFS='|' read -r updated available unavailable < <(kubectl --request-timeout=5s get deploy web -o \
  jsonpath='{.status.updatedReplicas}|{.status.availableReplicas}|{.status.unavailableReplicas}{"\n"}' 2>/dev/null)
if [[ ${updated:-0} -lt 2 || ${available:-0} -lt 2 || ${unavailable:-0} -gt 0 ]]; then
  problem "Deployment web is not fully available: ${updated:-0} updated, ${available:-0} available of 2."
  kubectl --request-timeout=5s get pods -l app=web -o \
    jsonpath='{range .items[*]}{.metadata.name} {.spec.containers[0].imagePullPolicy} {.status.containerStatuses[0].state.waiting.reason}{"\n"}{end}' 2>/dev/null |
    awk '$3 != "" {print "Pod " $1 " (imagePullPolicy " $2 ") is in " $3 "."}' | sed -n 1,3p
fi
exit $((problems > 0))
