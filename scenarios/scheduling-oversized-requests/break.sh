#!/bin/bash
# Deploys reports with a memory request no node in the lab can satisfy.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
kubectl create namespace finance --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: reports, namespace: finance}
spec:
  replicas: 1
  selector: {matchLabels: {app: reports}}
  template:
    metadata: {labels: {app: reports}}
    spec:
      containers:
        - name: reports
          image: "$(pause_image)"
          imagePullPolicy: IfNotPresent
          resources:
            requests: {memory: 64Gi, cpu: 100m}
YAML
