#!/bin/bash
# Runs toolbox on w1 (kube-proxy's image has a shell, getent and sleep; it is on every node),
# started by the kubelet that now hands out the wrong DNS server.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl wait --for=condition=Ready node/w1 --timeout="$(left)" >/dev/null
image=$(kubectl -n kube-system get ds kube-proxy -o jsonpath='{.spec.template.spec.containers[0].image}')
kubectl create namespace tools --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: toolbox, namespace: tools}
spec:
  replicas: 1
  selector: {matchLabels: {app: toolbox}}
  template:
    metadata: {labels: {app: toolbox}}
    spec:
      nodeSelector: {kubernetes.io/hostname: w1}
      terminationGracePeriodSeconds: 0
      containers:
        - {name: toolbox, image: "$image", imagePullPolicy: IfNotPresent, command: [sleep, infinity]}
YAML
# A pod from before the kubelet restart would still have the right resolv.conf.
kubectl -n tools delete pod -l app=toolbox --wait=false >/dev/null
kubectl -n tools rollout status deploy/toolbox --timeout="$(left)" >/dev/null
