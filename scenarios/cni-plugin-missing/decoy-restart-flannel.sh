#!/bin/bash
# Wrong fix: restart flannel on w1, expecting it to reinstall its plugin. The lab's flannel
# DaemonSet only writes the CNI config; the plugin binary comes with the node image.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n kube-flannel delete pod -l app=flannel --field-selector spec.nodeName=w1 --wait=true --timeout="$(left)" >/dev/null
kubectl -n kube-flannel rollout status ds/kube-flannel-ds --timeout="$(left)" >/dev/null
