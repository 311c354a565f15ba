#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n kube-flannel delete pod -l app=flannel --field-selector spec.nodeName=w1 --wait=true --timeout=60s
kubectl -n kube-flannel rollout status ds/kube-flannel-ds --timeout=90s
# Stuck pods retry with a growing back-off; new ones start at once.
kubectl delete pod -l app=web --wait=false
kubectl rollout status deploy/web --timeout=90s
