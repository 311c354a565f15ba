#!/bin/bash
# A PersistentVolume for w1's /srv/reports (class manual, 1Gi), and a claim written for another
# cluster (class standard, 2Gi): nothing ever binds it, and the pod that needs it stays Pending.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
pause_image() {
  kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:"
}
kubectl create namespace analytics --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: reports-data}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath: {path: /srv/reports, type: Directory}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [w1]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: reports-data, namespace: analytics}
spec:
  storageClassName: standard
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reports, namespace: analytics}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: reports}}
  template:
    metadata: {labels: {app: reports}}
    spec:
      containers:
        - name: reports
          image: "$(pause_image)"
          imagePullPolicy: IfNotPresent
          volumeMounts: [{name: data, mountPath: /data}]
      volumes:
        - {name: data, persistentVolumeClaim: {claimName: reports-data}}
YAML
