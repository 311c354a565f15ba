#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
hard=$(kubectl --request-timeout=5s -n batch get quota compute -o \
  jsonpath='{.spec.hard.requests\.cpu} {.spec.hard.requests\.memory} {.spec.hard.pods}' 2>/dev/null)
if [[ -z $hard ]]; then
  problem "ResourceQuota compute in batch is gone (or the API server does not answer); it is the team's budget, keep it."
elif [[ $hard != "1 512Mi 10" ]]; then
  problem "ResourceQuota compute was changed (requests.cpu, requests.memory, pods: $hard); keep the agreed 1, 512Mi, 10."
fi
IFS='|' read -r replicas available < <(kubectl --request-timeout=5s -n batch get deploy worker -o \
  jsonpath='{.spec.replicas}|{.status.availableReplicas}{"\n"}' 2>/dev/null)
if [[ -z ${replicas:-} ]]; then
  problem "Deployment worker in batch is gone; the goal is to run it."
else
  [[ $replicas -ge 3 ]] || problem "Deployment worker asks for $replicas replicas; it needs 3."
  if [[ ${available:-0} -lt 3 ]]; then
    pods=$(kubectl --request-timeout=5s -n batch get pods -l app=worker --no-headers 2>/dev/null | wc -l)
    problem "Deployment worker has ${available:-0} of 3 pods available ($pods pod(s) exist). A ReplicaSet retries rejected pods with a growing back-off; after a fix that does not change the deployment, \`kubectl -n batch rollout restart deploy/worker\` starts over."
  fi
fi
exit $((problems > 0))
