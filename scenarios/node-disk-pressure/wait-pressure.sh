#!/bin/bash
# The kubelet looks at the disk every 10 s; wait until w1 reports it, so the lab is broken when
# the learner gets it.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
until [[ $(kubectl --request-timeout=5s get node w1 -o jsonpath='{.status.conditions[?(@.type=="DiskPressure")].status}') == True ]]; do
  if ((SECONDS >= deadline)); then
    echo "w1 does not report DiskPressure after $deadline s" >&2
    exit 1
  fi
  sleep 3
done
