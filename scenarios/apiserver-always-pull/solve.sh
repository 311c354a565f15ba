#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
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
sed -i 's#--enable-admission-plugins=NodeRestriction,AlwaysPullImages$#--enable-admission-plugins=NodeRestriction#' "$manifest"
systemctl start kubelet
# The kubelet restarts the API server from its manifest; wait until a new pod keeps its policy
# (a server-side dry run: admission runs, nothing is created).
while ((SECONDS < deadline)); do
  policy=$(kubectl --request-timeout=5s run admission-probe --image=registry.k8s.io/pause --image-pull-policy=IfNotPresent \
    --dry-run=server -o jsonpath='{.spec.containers[0].imagePullPolicy}' 2>/dev/null || true)
  [[ $policy == IfNotPresent ]] && exit 0
  sleep 2
done
echo "the API server still admits pods with imagePullPolicy ${policy:-(no answer)}" >&2
exit 1
