#!/bin/bash
# Taints the only worker as if maintenance never ended, then deploys web, which cannot go anywhere.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
kubectl taint node w1 maintenance=planned:NoSchedule --overwrite >/dev/null
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
      containers:
        - {name: web, image: "$(pause_image)", imagePullPolicy: IfNotPresent}
YAML
# Pods of an earlier web (same template) would keep running where they are: replace them, and
# wait until they are gone, so the break ends with both pods Pending.
kubectl delete pod -l app=web --timeout="$(left)" >/dev/null
