#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
swapoff -a
sed -Ei 's@^([^#]\S*\s+\S+\s+swap\s)@#\1@' /etc/fstab
rm -f /swap.img
systemctl restart kubelet
kubectl wait --for=condition=Ready node/cp --timeout="$(left)"
