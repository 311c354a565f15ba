#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
sed -i 's#^resolvConf: .*#resolvConf: /run/systemd/resolve/resolv.conf#' /var/lib/kubelet/config.yaml
systemctl restart kubelet
timeout "$(left)" bash -c 'until kubectl -n kube-system delete pod -l k8s-app=kube-dns --wait=false >/dev/null 2>&1; do sleep 3; done'
kubectl -n kube-system rollout status deploy coredns --timeout="$(left)"
