#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
k() { kubectl --request-timeout=10s -n shop "$@"; }

client_ready() {
  k get pod -l app=client -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null
}
ready=$(client_ready)
# A fix takes a probe period or two to show (and a busy API server may not answer at once): give
# a client that is not Ready yet 30 s to become so.
for _ in 1 2 3 4 5 6; do
  if grep -qx True <<<"$ready"; then break; fi
  sleep 5
  ready=$(client_ready)
done
if [[ -z $ready ]]; then
  echo "No client pod in namespace shop (or the API server does not answer): make the client work rather than remove it."
  exit 1
fi
if ! grep -qx True <<<"$ready"; then
  said=$(k logs deploy/client --tail=1 2>/dev/null)
  problem "client is not Ready; its last words: ${said:-(nothing)}"
fi

# The lockdown stays: default-deny unchanged, and client reaches nothing it does not need.
IFS='|' read -r selector types < <(k get networkpolicy default-deny -o jsonpath='{.spec.podSelector}|{.spec.policyTypes}{"\n"}' 2>/dev/null)
if [[ -z ${types:-} ]]; then
  problem "NetworkPolicy default-deny is gone from shop: the lockdown has to stay."
elif [[ $selector != '{}' || $types != *Ingress* || $types != *Egress* ]]; then
  problem "NetworkPolicy default-deny no longer denies every pod in both directions (podSelector $selector, policyTypes $types)."
fi
api=$(kubectl --request-timeout=10s get service kubernetes -o jsonpath='{.spec.clusterIP}' 2>/dev/null)
if [[ -n $api ]] && grep -qx True <<<"$ready"; then
  # A refused or timed-out connection both mean blocked; only a completed one is a leak.
  if k exec deploy/client -- timeout 4 bash -c ": 3<>/dev/tcp/$api/443" >/dev/null 2>&1; then
    problem "client can open a connection to the API server ($api:443): its egress should stop at web and DNS."
  fi
fi
exit $((problems > 0))
