#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
manifest=/etc/kubernetes/manifests/kube-apiserver.yaml
# The kubelet is stopped while the manifest changes, and the old pod removed, so it starts the
# fixed pod as it does at boot. Changed under a running kubelet, above all one restarted shortly
# before (by the restart-the-kubelet decoy, or a learner), the kubelet was seen on real labs to
# keep the broken pod, or to wait on "unmounted volumes" for good, and never start the fixed one
# (kubernetes/kubernetes#134908).
systemctl stop kubelet
for pod in $(crictl pods -q --name '^kube-apiserver-'); do
  crictl stopp "$pod" >/dev/null
  crictl rmp "$pod" >/dev/null
done
sed -i 's#--client-ca-file=/etc/kubernetes/pki/ca-2027.crt$#--client-ca-file=/etc/kubernetes/pki/ca.crt#' "$manifest"
systemctl start kubelet
# The API server restarts from its manifest; wait until it answers (seconds on KVM, minutes emulated).
timeout "$(left)" bash -c "until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 3; done"
