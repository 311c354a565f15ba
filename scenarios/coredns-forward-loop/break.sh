#!/bin/bash
# Points the kubelet's resolvConf at systemd-resolved's stub (127.0.0.53), which inside a pod is
# the pod itself: CoreDNS forwards to itself, its loop plugin notices, and it exits.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
config=/var/lib/kubelet/config.yaml
# Debian with systemd-resolved: /etc/resolv.conf is the stub.
grep -q '^nameserver 127\.0\.0\.53' /etc/resolv.conf || ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
if grep -q '^resolvConf:' "$config"; then
  sed -i 's#^resolvConf: .*#resolvConf: /etc/resolv.conf#' "$config"
else
  echo 'resolvConf: /etc/resolv.conf' >>"$config"
fi
systemctl restart kubelet
# The running CoreDNS pods keep the resolv.conf they started with: replace them.
timeout "$(left)" bash -c 'until kubectl -n kube-system delete pod -l k8s-app=kube-dns --wait=false >/dev/null 2>&1; do sleep 3; done'
