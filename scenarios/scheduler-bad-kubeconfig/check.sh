#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
conf=$(grep -o -- '--kubeconfig=[^ ]*' /etc/kubernetes/manifests/kube-scheduler.yaml | cut -d= -f2)
[[ -n $conf && -f $conf ]] || problem "kube-scheduler.yaml names --kubeconfig=${conf:-nothing}, which does not exist on cp."
# The answers below come from the API server: when it does not answer, say that, not "not ready".
if ! api=$(kubectl --request-timeout=10s get --raw=/readyz 2>&1 >/dev/null); then
  problem "The API server did not answer (${api:0:160}). After a static pod restarts the control plane can take a minute to settle: check again."
  exit 1
fi
ready=$(kubectl --request-timeout=10s -n kube-system get pod kube-scheduler-cp -o jsonpath='{.status.containerStatuses[0].ready}' 2>/dev/null)
[[ $ready == true ]] || problem "The kube-scheduler pod on cp is not ready."
pending=$(kubectl --request-timeout=10s get pods -l app=web --field-selector=status.phase=Pending --no-headers 2>/dev/null | wc -l)
[[ $pending -eq 0 ]] || problem "$pending pod(s) of web are still Pending."
available=$(kubectl --request-timeout=10s get deploy web -o jsonpath='{.status.availableReplicas}' 2>/dev/null)
[[ ${available:-0} -ge 2 ]] || problem "Deployment web has ${available:-0} of 2 pods available."
exit $((problems > 0))
