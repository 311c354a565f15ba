#!/bin/bash
# Puts the kube-dns ClusterIP back into the kubelet's configuration and restarts it. The node's
# own credentials may read Services (the kubelet needs them for pods' environment variables).
set -euo pipefail
config=/var/lib/kubelet/config.yaml
dns=$(kubectl --kubeconfig /etc/kubernetes/kubelet.conf --request-timeout=10s -n kube-system get svc kube-dns \
  -o jsonpath='{.spec.clusterIP}' 2>/dev/null || true)
[[ -n $dns ]] || dns=$(cat /var/lib/breakfix/kubelet-cluster-dns.orig)
sed -i "/^clusterDNS:/{n;s/^- .*/- $dns/}" "$config"
systemctl restart kubelet
