#!/bin/bash
# The kubelet looks at the disk every 10 s; wait until w1 reports it, so the lab is broken when
# the learner gets it.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits take what is left of the deadline the runner gave this script (BREAKFIX_TIMEOUT_SECONDS,
# minutes on an emulated lab, 2 on a learner's), less 10 s to report what timed out.
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
until [[ $(kubectl --request-timeout=5s get node w1 -o jsonpath='{.status.conditions[?(@.type=="DiskPressure")].status}') == True ]]; do
  if ((SECONDS >= deadline)); then
    echo "w1 does not report DiskPressure after $deadline s" >&2
    exit 1
  fi
  sleep 3
done
