#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
sed -i 's#--kubeconfig=/etc/kubernetes/scheduler.config$#--kubeconfig=/etc/kubernetes/scheduler.conf#' /etc/kubernetes/manifests/kube-scheduler.yaml
kubectl rollout status deploy/web --timeout=170s
