#!/bin/bash
# Wrong fix: drop the lockdown. The client is Ready again, and reaches everything.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n shop delete networkpolicy --all >/dev/null
kubectl -n shop wait --for=condition=Ready pod -l app=client --timeout="$(left)" >/dev/null
