#!/bin/bash
# Runs web on w1 and replaces its pods, so they need the (now missing) CNI plugin.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
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
kubectl delete pod -l app=web --wait=false >/dev/null
