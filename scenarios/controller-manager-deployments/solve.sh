#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
manifest=/etc/kubernetes/manifests/kube-controller-manager.yaml
staged=/etc/kubernetes/kube-controller-manager.yaml.solving
# Edited out of the kubelet's sight, so it stops the broken controller manager before it starts
# the fixed one (see apiserver-client-ca/solve.sh).
if [[ -f $manifest ]]; then
  mv "$manifest" "$staged"
  timeout 180 bash -c 'while crictl ps -q --name "^kube-controller-manager$" | grep -q .; do sleep 2; done'
fi
sed -i 's#,-deployment-controller$##' "$staged"
mv "$staged" "$manifest"
# A kubelet restarted shortly before a static pod's manifest changes may never start the new pod
# (it waits on "unmounted volumes" for good: kubernetes/kubernetes#134908, seen here after the
# restart-the-kubelet decoy). Restarted after the change, it starts it as it does at boot.
if ! timeout 120 bash -c 'until crictl ps -q --name "^kube-controller-manager$" | grep -q .; do sleep 3; done'; then
  echo "no kube-controller-manager container 120 s after the fix: restarting the kubelet" >&2
  systemctl restart kubelet
fi
# A new controller manager waits for the old one's lease (15 s) before it acts.
kubectl rollout status deploy/web --timeout=420s
