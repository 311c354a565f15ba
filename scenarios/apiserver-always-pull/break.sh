#!/bin/bash
# Waits for the API server the kubelet restarted with the plugin (a server-side dry run shows what
# admission does to a pod), then deploys web, whose pods can no longer start.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
image=$(pause_image)
admitted_policy() {
  kubectl --request-timeout=5s run admission-probe --image="$image" --image-pull-policy=IfNotPresent \
    --dry-run=server -o jsonpath='{.spec.containers[0].imagePullPolicy}' 2>/dev/null || true
}
# The kubelet notices the manifest within about 20 s; the API server then needs its own start-up
# time (seconds on KVM, minutes emulated: wait-apiserver.sh before this gives it its whole deadline).
until [[ $(admitted_policy) == Always ]]; do
  ((SECONDS < deadline)) || break
  sleep 2
done
if [[ $(admitted_policy) != Always ]]; then
  echo "the API server has not come back with AlwaysPullImages yet" >&2
  exit 1
fi
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
        - {name: web, image: "$image", imagePullPolicy: IfNotPresent}
YAML
# Pods admitted before the plugin (a retried break) would run: replace them.
kubectl delete pod -l app=web --wait=false >/dev/null
