#!/bin/bash
# Points the scheduler at a kubeconfig that does not exist, then creates pods that need scheduling.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}

manifest=/etc/kubernetes/manifests/kube-scheduler.yaml
sed -i 's#--kubeconfig=/etc/kubernetes/scheduler.conf$#--kubeconfig=/etc/kubernetes/scheduler.config#' "$manifest"
grep -q -- '--kubeconfig=/etc/kubernetes/scheduler.config' "$manifest"
# Wait until the broken scheduler has replaced the working one, so the pods below stay Pending.
while ((SECONDS < deadline)); do
  ready=$(kubectl -n kube-system get pod kube-scheduler-cp -o jsonpath='{.status.containerStatuses[0].ready}' 2>/dev/null || true)
  [[ $ready == true ]] || break
  sleep 2
done
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
kubectl delete pod -l app=web --wait=false >/dev/null
