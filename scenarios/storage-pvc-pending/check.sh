#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
IFS='|' read -r name claim available < <(kubectl --request-timeout=5s -n analytics get deploy reports -o \
  jsonpath='{.metadata.name}|{.spec.template.spec.volumes[?(@.persistentVolumeClaim)].persistentVolumeClaim.claimName}|{.status.availableReplicas}{"\n"}' 2>/dev/null)
if [[ -z ${name:-} ]]; then
  echo "Deployment reports in analytics is gone (or the API server does not answer); the goal is to run it."
  exit 1
fi
if [[ -z ${claim:-} ]]; then
  problem "Deployment reports mounts no PersistentVolumeClaim any more; it needs the data in /srv/reports on w1."
else
  IFS='|' read -r phase volume < <(kubectl --request-timeout=5s -n analytics get pvc "$claim" -o \
    jsonpath='{.status.phase}|{.spec.volumeName}{"\n"}' 2>/dev/null)
  if [[ ${phase:-} != Bound ]]; then
    problem "PersistentVolumeClaim $claim is ${phase:-missing}: no PersistentVolume is bound to it."
  else
    path=$(kubectl --request-timeout=5s get pv "$volume" -o jsonpath='{.spec.hostPath.path}{.spec.local.path}' 2>/dev/null)
    [[ ${path%/} == /srv/reports ]] ||
      problem "PersistentVolumeClaim $claim is bound to $volume, which holds ${path:-no host path}, not the data in /srv/reports."
  fi
fi
[[ ${available:-0} -ge 1 ]] || problem "Deployment reports has no pod available yet."
exit $((problems > 0))
