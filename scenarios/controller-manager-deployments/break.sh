#!/bin/bash
# Switches the Deployment controller off in kube-controller-manager, then creates a Deployment
# that therefore never gets a ReplicaSet.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
manifest=/etc/kubernetes/manifests/kube-controller-manager.yaml
running() { crictl ps -q --name '^kube-controller-manager$' 2>/dev/null; }
if ! grep -q -- '--controllers=.*,-deployment-controller$' "$manifest"; then
  before=$(running)
  sed -i 's#^\(\s*- --controllers=.*\)$#\1,-deployment-controller#' "$manifest"
  grep -q -- '--controllers=.*,-deployment-controller$' "$manifest"
  # The working controller manager must be gone before web exists, or it creates the ReplicaSet.
  if [[ -n $before ]]; then
    timeout "$(left)" bash -c "while crictl ps -q --name '^kube-controller-manager\$' | grep -qx '$before'; do sleep 2; done"
  fi
fi
if ! kubectl get deploy web >/dev/null 2>&1; then
  kubectl create deployment web --image="$(pause_image)" --replicas=2 >/dev/null
fi
