#!/bin/bash
# Wrong fix: restart the pods (delete them; the Deployment makes new ones, both at once). They come
# back with the same labels and port; the Service still selects nothing.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
old=" $(kubectl -n store get pods -l app=shop -o jsonpath='{.items[*].metadata.name}') "
kubectl -n store delete pod -l app=shop --wait=false >/dev/null
# Until two new pods are Ready and the old ones are gone (a rolling restart, one pod at a time,
# outlasted the decoy's 120 s deadline on a busy emulated lab).
while ((SECONDS < deadline)); do
  fresh=0 stale=0
  while IFS='=' read -r name ready; do
    [[ -n $name ]] || continue
    if [[ $old == *" $name "* ]]; then
      stale=$((stale + 1))
    elif [[ $ready == True ]]; then
      fresh=$((fresh + 1))
    fi
  done < <(kubectl -n store get pods -l app=shop -o \
    jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
  ((fresh >= 2 && stale == 0)) && exit 0
  sleep 3
done
echo "the shop pods did not come back Ready within $deadline s" >&2
exit 1
