#!/bin/bash
# Wrong fix: delete the Pending pod. Its replacement waits for the same unbound claim.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n analytics delete pod -l app=reports --wait=false >/dev/null
