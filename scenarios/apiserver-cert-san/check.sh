#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
conf=/etc/kubernetes/admin.conf
server=$(awk '$1 == "server:" { print $2; exit }' "$conf")
host=${server#https://}
host=${host%:*}
if grep -q 'insecure-skip-tls-verify: *true' "$conf"; then
  problem "$conf skips TLS verification: that hides the fault from kubectl, not from the kubelets and kube-proxy. Put the cluster CA back and fix what the API server serves."
fi
# What the API server serves, verified the way every client verifies it: the cluster CA and the
# name in the kubeconfigs.
if ! timeout 10 openssl s_client -connect 127.0.0.1:6443 -servername "$host" -verify_hostname "$host" \
  -CAfile /etc/kubernetes/pki/ca.crt -verify_return_error </dev/null >/dev/null 2>&1; then
  problem "The API server's certificate is not valid for $host (the address in every kubeconfig) or not signed by the cluster CA."
fi
export KUBECONFIG=$conf
if ! nodes=$(kubectl --request-timeout=5s get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null); then
  ((problems > 0)) || problem "kubectl with $conf is still refused; give the API server a minute."
else
  while read -r name ready; do
    [[ -z $name || $ready == True ]] || problem "Node $name is not Ready yet (Ready=$ready); its kubelet reconnects within a minute once the certificate is right."
  done <<<"$nodes"
fi
exit $((problems > 0))
