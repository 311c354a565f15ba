#!/bin/bash
# Wrong fix: create the StorageClass the claim names. Without a provisioner nothing creates a
# volume for it, and the existing volume still belongs to another class.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: kubernetes.io/no-provisioner
YAML
