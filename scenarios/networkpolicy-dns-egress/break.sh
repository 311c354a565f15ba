#!/bin/bash
# Deploys web (CoreDNS's image serving /health on 8080) behind Service web:80, and client (the
# kube-proxy image's bash and getent) which is Ready only while it resolves web and gets its
# /health. Then the lockdown: default-deny in both directions, client -> web allowed, and no
# egress to the cluster DNS, so client can no longer resolve web.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
system_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/$1:"
}
kubectl create namespace shop --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: web-corefile, namespace: shop}
data:
  Corefile: |
    .:5353 {
        health :8080
        whoami
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: "$(system_image coredns)"
          imagePullPolicy: IfNotPresent
          args: [-conf, /etc/coredns/Corefile]
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /health, port: 8080}
            periodSeconds: 10
          volumeMounts: [{name: corefile, mountPath: /etc/coredns, readOnly: true}]
      volumes:
        - {name: corefile, configMap: {name: web-corefile}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: client
          image: "$(system_image kube-proxy)"
          imagePullPolicy: IfNotPresent
          command:
            - bash
            - -c
            - |
              while :; do
                ip=\$(timeout 8 getent ahostsv4 web.shop.svc.cluster.local. | awk '{ print \$1; exit }')
                if [[ -z \$ip ]]; then
                  rm -f /tmp/ready; echo "\$(date +%T) cannot resolve web.shop.svc.cluster.local"
                elif timeout 3 bash -c "exec 3<>/dev/tcp/\$ip/80 && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && grep -q OK <&3"; then
                  [[ -f /tmp/ready ]] || echo "\$(date +%T) web (\$ip) answers /health"; touch /tmp/ready
                else
                  rm -f /tmp/ready; echo "\$(date +%T) web resolves to \$ip but does not answer /health on port 80"
                fi
                sleep 3
              done
          readinessProbe:
            exec: {command: [test, -f, /tmp/ready]}
            periodSeconds: 5
            # An exec probe has 1 s by default; on a busy node runc alone can take longer.
            timeoutSeconds: 10
            failureThreshold: 2
YAML
# On an emulated node under load a pod can take minutes to start.
kubectl -n shop rollout status deploy/web --timeout="$(left)" >/dev/null
kubectl -n shop wait --for=condition=Ready pod -l app=client --timeout="$(left)" >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-to-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{protocol: TCP, port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: client}}}]
      ports: [{protocol: TCP, port: 8080}]
YAML
# The break is in place when the lockdown has reached the client: it no longer resolves web.
timeout "$(left)" bash -c 'until kubectl -n shop get pod -l app=client -o jsonpath="{.items[*].status.conditions[?(@.type==\"Ready\")].status}" | grep -qx False; do sleep 3; done'
