#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
# One request for the deployment, one for its pods: a hung API server costs at most 10 s.
# Fields separated by | keep their places when one is empty.
IFS='|' read -r image updated available unavailable < <(kubectl --request-timeout=5s get deploy api -o \
  jsonpath='{.spec.template.spec.containers[0].image}|{.status.updatedReplicas}|{.status.availableReplicas}|{.status.unavailableReplicas}{"\n"}' 2>/dev/null)
if [[ -z ${image:-} ]]; then
  problem "Deployment api is gone (or the API server does not answer); the goal is to get it available, not to remove it."
  exit 1
fi
[[ $image != *:9.9-hardened ]] || problem "api still asks for $image, which no node has and none can pull."
kubectl --request-timeout=5s get pods -l app=api -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].state.waiting.reason}{"\n"}{end}' |
  awk '$2 ~ /ImagePull|ErrImage/ {print "Pod " $1 " is in " $2 "."}' | sed -n 1,3p
if [[ ${updated:-0} -lt 2 || ${available:-0} -lt 2 || ${unavailable:-0} -gt 0 ]]; then
  problem "Deployment api is not fully rolled out: ${updated:-0} updated, ${available:-0} available of 2."
fi
exit $((problems > 0))
