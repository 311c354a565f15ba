#!/bin/bash
# Wrong fix: drop the lockdown. The client is Ready again, and reaches everything.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n shop delete networkpolicy --all >/dev/null
kubectl -n shop wait --for=condition=Ready pod -l app=client --timeout=120s >/dev/null
