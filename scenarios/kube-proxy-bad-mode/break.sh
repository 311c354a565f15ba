#!/bin/bash
# "Starts a migration to nftables" with a typo in kube-proxy's mode, restarts every kube-proxy (they
# now exit at start), then creates web and its Service, which no kube-proxy ever programs.
# Services created before keep working: their iptables rules stay behind when kube-proxy dies.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
coredns_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/coredns:"
}
# kubeadm writes the KubeProxyConfiguration into config.conf, its top-level keys indented by 4.
kubectl -n kube-system get cm kube-proxy -o yaml |
  sed 's/^    mode: *"\{0,1\}\(iptables\)\{0,1\}"\{0,1\}$/    mode: nftable/' |
  kubectl replace -f - >/dev/null
grep -q '^mode: nftable$' <<<"$(kubectl -n kube-system get cm kube-proxy -o jsonpath='{.data.config\.conf}')"
# All at once: a rolling restart would stop at the first crashing pod and leave the others working.
kubectl -n kube-system delete pod -l k8s-app=kube-proxy --wait=true --timeout="$(left)" >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: web-corefile, namespace: default}
data:
  Corefile: |
    .:5353 {
        health :8080
        whoami
    }
---
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
        - name: web
          image: "$(coredns_image)"
          imagePullPolicy: IfNotPresent
          args: [-conf, /etc/coredns/Corefile]
          ports: [{name: http, containerPort: 8080}]
          volumeMounts: [{name: corefile, mountPath: /etc/coredns, readOnly: true}]
      volumes:
        - {name: corefile, configMap: {name: web-corefile}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
YAML
kubectl rollout status deploy/web --timeout="$(left)" >/dev/null
