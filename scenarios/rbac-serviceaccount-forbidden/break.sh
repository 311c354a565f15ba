#!/bin/bash
# Sets up reporter's permissions with two mistakes: the Role lacks "list", and the RoleBinding
# names the ServiceAccount in the wrong namespace.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
for ns in monitoring apps; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
done
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ServiceAccount
metadata: {name: reporter, namespace: monitoring}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: apps}
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reporter-pod-reader, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
  - {kind: ServiceAccount, name: reporter, namespace: default}
YAML
