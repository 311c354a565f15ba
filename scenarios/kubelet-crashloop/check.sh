#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
failed=0
if grep -Eq -- '--max-pods=[^0-9]' /etc/default/kubelet 2>/dev/null; then
  echo "/etc/default/kubelet still passes the kubelet a --max-pods value that is not a number."
  failed=1
fi
restarts=$(systemctl show kubelet -p NRestarts --value 2>/dev/null)
if ! systemctl is-active --quiet kubelet; then
  echo "The kubelet is not running (systemd restarted it ${restarts:-?} times so far)."
  failed=1
fi
if ! systemctl is-enabled --quiet kubelet; then
  echo "The kubelet is not enabled: it would not start after a reboot."
  failed=1
fi
ready=$(kubectl --request-timeout=5s get node cp -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
if [[ $ready != True ]]; then
  echo "Node cp is not Ready (Ready=${ready:-unknown}). After a fix it can take up to a minute."
  failed=1
fi
exit "$failed"
