#!/bin/bash
# Wrong fix: restart flannel on w1, expecting it to reinstall its plugin. The lab's flannel
# DaemonSet only writes the CNI config; the plugin binary comes with the node image.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits take what is left of the deadline the runner gave this script (BREAKFIX_TIMEOUT_SECONDS,
# minutes on an emulated lab, 2 on a learner's), less 10 s to report what timed out.
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
kubectl -n kube-flannel delete pod -l app=flannel --field-selector spec.nodeName=w1 --wait=true --timeout="$(left)" >/dev/null
kubectl -n kube-flannel rollout status ds/kube-flannel-ds --timeout="$(left)" >/dev/null
