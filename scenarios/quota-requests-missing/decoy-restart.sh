#!/bin/bash
# Wrong fix: restart the deployment. The new ReplicaSet's pods are rejected the same way.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n batch rollout restart deploy/worker >/dev/null
