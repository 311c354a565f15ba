#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
IFS='|' read -r ip selector < <(kubectl --request-timeout=5s -n store get svc shop -o \
  jsonpath='{.spec.clusterIP}|{.spec.selector}{"\n"}' 2>/dev/null)
if [[ -z ${ip:-} ]]; then
  echo "Service shop in store is gone (or the API server does not answer); make it work rather than remove it."
  exit 1
fi
ready=$(kubectl --request-timeout=5s -n store get endpointslices -l kubernetes.io/service-name=shop -o \
  jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' 2>/dev/null | grep -c '^true$')
if [[ $ready -eq 0 ]]; then
  problem "Service shop has no ready endpoints: its selector ${selector:-(none)} matches no Ready pod in store."
else
  [[ $ready -ge 2 ]] || problem "Service shop has only $ready ready endpoint; both shop pods belong behind it."
  curl -fsS --max-time 3 "http://$ip/health" >/dev/null 2>&1 ||
    problem "Service shop has $ready ready endpoint(s), yet http://$ip:80/health does not answer: where does it forward the traffic?"
fi
available=$(kubectl --request-timeout=5s -n store get deploy shop -o jsonpath='{.status.availableReplicas}' 2>/dev/null)
[[ ${available:-0} -ge 2 ]] || problem "Deployment shop has ${available:-0} of 2 pods available."
exit $((problems > 0))
