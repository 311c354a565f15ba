#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
swapoff -a
sed -Ei 's@^([^#]\S*\s+\S+\s+swap\s)@#\1@' /etc/fstab
rm -f /swap.img
systemctl restart kubelet
kubectl wait --for=condition=Ready node/cp --timeout=150s
