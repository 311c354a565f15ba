#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
# An emulated control plane under load (load average above 20 on 2 vCPUs was seen) takes minutes
# to restart the scheduler and start the pods; a learner's lab on KVM takes seconds.
sed -i 's#--kubeconfig=/etc/kubernetes/scheduler.config$#--kubeconfig=/etc/kubernetes/scheduler.conf#' /etc/kubernetes/manifests/kube-scheduler.yaml
kubectl rollout status deploy/web --timeout="$(left)"
