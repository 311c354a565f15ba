#!/bin/bash
# Wrong fix: delete the Pending pod. Its replacement asks for the same memory and waits the same way.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n finance delete pod -l app=reports --wait=false >/dev/null
