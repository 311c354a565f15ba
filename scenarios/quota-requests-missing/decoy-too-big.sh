#!/bin/bash
# Half a fix: requests, but too big for three pods in the budget (3 x 400m > 1 CPU): only two start.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n batch set resources deploy/worker --requests=cpu=400m,memory=128Mi >/dev/null
