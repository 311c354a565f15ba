#!/bin/bash
# Wrong fix: delete web and create it again. Nothing acts on Deployments, new or old.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
image=$(kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')
kubectl delete deploy web --wait=true >/dev/null
kubectl create deployment web --image="$image" --replicas=2 >/dev/null
