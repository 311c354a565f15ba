#!/bin/bash
# A claim's class and size cannot be edited down: recreate it to match the volume.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n analytics scale deploy/reports --replicas=0
kubectl -n analytics delete pvc reports-data --wait=true --timeout="$(left)"
kubectl apply -f - <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: reports-data, namespace: analytics}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
YAML
kubectl -n analytics wait --for=jsonpath='{.status.phase}'=Bound pvc/reports-data --timeout="$(left)"
kubectl -n analytics scale deploy/reports --replicas=1
kubectl -n analytics rollout status deploy/reports --timeout="$(left)"
