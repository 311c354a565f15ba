#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl wait --for=condition=Ready node/w1 --timeout=60s
# Pods keep the resolv.conf they started with.
kubectl -n tools rollout restart deploy/toolbox
kubectl -n tools rollout status deploy/toolbox --timeout=60s
timeout 25 bash -c 'until kubectl -n tools exec deploy/toolbox -- timeout 3 getent hosts kubernetes.default.svc.cluster.local.; do sleep 2; done'
