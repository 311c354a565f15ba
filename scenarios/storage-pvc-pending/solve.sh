#!/bin/bash
# A claim's class and size cannot be edited down: recreate it to match the volume.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n analytics scale deploy/reports --replicas=0
kubectl -n analytics delete pvc reports-data --wait=true --timeout=60s
kubectl apply -f - <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: reports-data, namespace: analytics}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
YAML
kubectl -n analytics wait --for=jsonpath='{.status.phase}'=Bound pvc/reports-data --timeout=60s
kubectl -n analytics scale deploy/reports --replicas=1
kubectl -n analytics rollout status deploy/reports --timeout=50s
