#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
k() { kubectl --request-timeout=5s "$@" 2>/dev/null; }
if ! k get --raw=/readyz >/dev/null; then
  echo "The API server does not answer. After a restore, etcd and the API server take a minute or two to come back."
  exit 1
fi
if [[ -z $(k get namespace billing -o name) ]]; then
  problem "Namespace billing does not exist: it is in the snapshot under /var/backups/etcd/."
else
  while read -r ref uid; do
    have=$(k -n billing get "$ref" -o jsonpath='{.metadata.uid}')
    if [[ -z $have ]]; then
      problem "$ref is missing from billing."
    elif [[ $have != "$uid" ]]; then
      problem "$ref was recreated, not restored: it is a new object (new UID), not the one in the snapshot."
    fi
  done </var/lib/breakfix/etcd-snapshot-restore/uids
  ready=$(k -n billing get deployment invoices -o jsonpath='{.status.readyReplicas}')
  ((${ready:-0} >= 1)) || problem "Deployment invoices has no ready pod yet; give it a minute."
fi
while read -r name status; do
  [[ -z $name || $status == True ]] || problem "Node $name is not Ready (Ready=$status)."
done < <(k get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
exit $((problems > 0))
