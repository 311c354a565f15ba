#!/bin/bash
# Wrong fix: restart CoreDNS without fixing its Corefile; the new pods read the same zone.
# Both pods are deleted at once and the decoy waits for two new Ready ones: a rolling restart,
# one pod at a time, outlasted the decoy's 120 s deadline on a starved emulated lab.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
old=" $(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[*].metadata.name}') "
kubectl -n kube-system delete pod -l k8s-app=kube-dns --wait=false >/dev/null
while ((SECONDS < deadline)); do
  fresh=0 stale=0
  while IFS='=' read -r name ready; do
    [[ -n $name ]] || continue
    if [[ $old == *" $name "* ]]; then
      stale=$((stale + 1))
    elif [[ $ready == True ]]; then
      fresh=$((fresh + 1))
    fi
  done < <(kubectl -n kube-system get pods -l k8s-app=kube-dns -o \
    jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
  ((fresh >= 2 && stale == 0)) && exit 0
  sleep 3
done
echo "the CoreDNS pods did not come back Ready within $deadline s" >&2
exit 1
