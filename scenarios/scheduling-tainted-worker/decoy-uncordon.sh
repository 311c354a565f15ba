#!/bin/bash
# Wrong fix: uncordon w1. It was never cordoned; the taint that keeps pods away stays.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl uncordon w1 >/dev/null
