#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
sa=system:serviceaccount:monitoring:reporter
# Prints yes or no; nothing when the API server does not answer.
can() { kubectl --request-timeout=5s auth can-i "$@" --as="$sa" 2>/dev/null; }
answer=$(can list pods -n apps)
if [[ -z $answer ]]; then
  echo "The API server does not answer kubectl auth can-i."
  exit 1
fi
[[ $answer == yes ]] || problem "reporter still may not list pods in apps."
for verb in get watch; do
  [[ $(can "$verb" pods -n apps) == yes ]] || problem "reporter may not $verb pods in apps."
done
[[ $(can delete pods -n apps) == no ]] || problem "reporter may delete pods in apps: it only needs to read them."
[[ $(can get secrets -n apps) == no ]] || problem "reporter may read secrets in apps: it only needs pods."
[[ $(can list pods -n kube-system) == no ]] || problem "reporter may list pods in kube-system: it only needs apps."
exit $((problems > 0))
