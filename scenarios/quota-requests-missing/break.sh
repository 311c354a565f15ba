#!/bin/bash
# Puts a compute quota on batch, then deploys worker with no resource requests: the API server
# rejects each of its pods, so the ReplicaSet records events and no pod ever exists.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
kubectl create namespace batch --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: batch}
spec:
  hard: {requests.cpu: "1", requests.memory: 512Mi, pods: "10"}
YAML
# Admission uses the quota's status, which the quota controller fills in a few seconds.
while ((SECONDS < deadline)); do
  [[ -n $(kubectl -n batch get quota compute -o jsonpath='{.status.hard}') ]] && break
  sleep 2
done
kubectl apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: batch}
spec:
  replicas: 3
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - {name: worker, image: "$(pause_image)", imagePullPolicy: IfNotPresent}
YAML
