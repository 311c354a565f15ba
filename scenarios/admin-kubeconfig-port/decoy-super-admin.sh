#!/bin/bash
# Wrong fix: "kubectl works again" by pointing it at break-glass credentials the break did not
# touch. The admin kubeconfig and the learner's own stay broken.
set -euo pipefail
grep -qx "export KUBECONFIG=/etc/kubernetes/super-admin.conf" /root/.bashrc 2>/dev/null ||
  echo "export KUBECONFIG=/etc/kubernetes/super-admin.conf" >>/root/.bashrc
