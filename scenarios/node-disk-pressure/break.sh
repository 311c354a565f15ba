#!/bin/bash
# Runs web on w1 before its disk fills up, so the learner sees the evictions.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
# Run again on a full disk, web could not roll out: it is there already, leave it.
kubectl get deploy web >/dev/null 2>&1 && exit 0
kubectl apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/hostname: w1}
      containers:
        - {name: web, image: "$(pause_image)", imagePullPolicy: IfNotPresent}
YAML
kubectl rollout status deploy/web --timeout="$(left)" >/dev/null
