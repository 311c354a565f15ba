#!/bin/bash
# Wrong fix: make kubectl stop verifying the API server. kubectl works; the kubelets still do not.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
cluster=$(kubectl config view -o jsonpath='{.clusters[0].name}')
kubectl config unset "clusters.$cluster.certificate-authority-data" >/dev/null
kubectl config set-cluster "$cluster" --insecure-skip-tls-verify=true >/dev/null
