#!/bin/bash
# Deploys ledger (CoreDNS's image, whose health plugin serves /health on 8080) with a readiness
# probe that is right and a liveness probe on /healthz, which it answers 404: the kubelet kills it.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
coredns_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/coredns:"
}
kubectl create namespace payments --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: ledger-corefile, namespace: payments}
data:
  Corefile: |
    .:5353 {
        health :8080
        whoami
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: payments}
spec:
  replicas: 2
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      containers:
        - name: ledger
          image: "$(coredns_image)"
          imagePullPolicy: IfNotPresent
          args: [-conf, /etc/coredns/Corefile]
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /health, port: 8080}
            periodSeconds: 5
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}
            initialDelaySeconds: 5
            periodSeconds: 5
            failureThreshold: 3
          volumeMounts: [{name: corefile, mountPath: /etc/coredns, readOnly: true}]
      volumes:
        - {name: corefile, configMap: {name: ledger-corefile}}
YAML
