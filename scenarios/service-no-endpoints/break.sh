#!/bin/bash
# Deploys shop (CoreDNS's image serving /health on 8080) behind a Service whose selector names a
# label the pods lack and whose targetPort is one nothing listens on.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
coredns_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/coredns:"
}
kubectl create namespace store --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-corefile, namespace: store}
data:
  Corefile: |
    .:5353 {
        health :8080
        whoami
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop, namespace: store}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop, tier: web}}
    spec:
      containers:
        - name: shop
          image: "$(coredns_image)"
          imagePullPolicy: IfNotPresent
          args: [-conf, /etc/coredns/Corefile]
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /health, port: 8080}
            periodSeconds: 5
          volumeMounts: [{name: corefile, mountPath: /etc/coredns, readOnly: true}]
      volumes:
        - {name: corefile, configMap: {name: shop-corefile}}
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: store}
spec:
  selector: {app: shop, tier: frontend}
  ports: [{name: http, port: 80, targetPort: 8081}]
YAML
kubectl -n store rollout status deploy/shop --timeout="$(left)" >/dev/null
