#!/bin/bash
# Wrong fix: drop the lockdown. The client is Ready again, and reaches everything.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits take what is left of the deadline the runner gave this script (BREAKFIX_TIMEOUT_SECONDS,
# minutes on an emulated lab, 2 on a learner's), less 10 s to report what timed out.
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n shop delete networkpolicy --all >/dev/null
kubectl -n shop wait --for=condition=Ready pod -l app=client --timeout="$(left)" >/dev/null
