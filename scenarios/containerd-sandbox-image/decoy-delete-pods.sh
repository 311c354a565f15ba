#!/bin/bash
# Wrong fix: delete the stuck pods. Their replacements need the same missing sandbox image.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl delete pod -l app=web --wait=false >/dev/null
