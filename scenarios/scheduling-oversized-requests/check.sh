#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
request=$(kubectl --request-timeout=5s -n finance get deploy reports -o jsonpath='{.spec.template.spec.containers[0].resources.requests.memory}')
bytes=$(numfmt --from=auto <<<"${request:-0}" 2>/dev/null || numfmt --from=iec-i <<<"${request:-0}" 2>/dev/null || echo 0)
if [[ -z $request ]]; then
  problem "reports requests no memory at all; give it a request of at most 256Mi so it is scheduled fairly."
elif ((bytes > 268435456)); then
  problem "reports requests $request of memory; no node can give that. At most 256Mi."
fi
available=$(kubectl --request-timeout=5s -n finance get deploy reports -o jsonpath='{.status.availableReplicas}')
[[ ${available:-0} -ge 1 ]] || problem "The reports pod is not running yet."
exit $((problems > 0))
