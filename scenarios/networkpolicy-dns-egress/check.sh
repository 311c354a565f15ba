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
# The leak probe goes to a cluster DNS pod's health port (8080), not to the API server: on a
# one-node lab the API server is the client's own node, and traffic from a pod to its own node
# never passes the hook where the policy controller filters (postrouting), so it would look open
# whatever the policies say. A pod address is filtered wherever the client runs.
dns_ip=$(kubectl --request-timeout=10s -n kube-system get pod -l k8s-app=kube-dns -o jsonpath='{.items[0].status.podIP}' 2>/dev/null)
if [[ -n $dns_ip ]] && grep -qx True <<<"$ready"; then
  # A refused or timed-out connection both mean blocked; only a completed one is a leak.
  if k exec deploy/client -- timeout 4 bash -c ": 3<>/dev/tcp/$dns_ip/8080" >/dev/null 2>&1; then
    problem "client can open a connection to port 8080 of a cluster DNS pod ($dns_ip): its egress should stop at web and DNS (port 53)."
  fi
fi
exit $((problems > 0))
