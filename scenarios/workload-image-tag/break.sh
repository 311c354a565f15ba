#!/bin/bash
# Deploys api with an image the nodes have, then "upgrades" it to a tag that exists nowhere.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
image=$(pause_image)
if ! kubectl get deploy api >/dev/null 2>&1; then
  kubectl create deployment api --image="$image" --replicas=2 >/dev/null
  kubectl rollout status deploy/api --timeout="$(left)" >/dev/null
fi
kubectl set image deploy/api "*=${image%:*}:9.9-hardened" >/dev/null
