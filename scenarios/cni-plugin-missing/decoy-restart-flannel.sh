#!/bin/bash
# Wrong fix: restart flannel on w1, expecting it to reinstall its plugin. The lab's flannel
# DaemonSet only writes the CNI config; the plugin binary comes with the node image.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl -n kube-flannel delete pod -l app=flannel --field-selector spec.nodeName=w1 --wait=true --timeout=60s >/dev/null
kubectl -n kube-flannel rollout status ds/kube-flannel-ds --timeout=90s >/dev/null
