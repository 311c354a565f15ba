#!/bin/bash
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
manifest=/etc/kubernetes/manifests/kube-apiserver.yaml
staged=/etc/kubernetes/kube-apiserver.yaml.solving
# Edited out of the kubelet's sight, so it stops the broken API server before it starts the fixed
# one: edited in place just after a kubelet restart, the kubelet was seen on a real lab to keep the
# broken pod running for minutes with the fixed one waiting behind it.
if [[ -f $manifest ]]; then
  mv "$manifest" "$staged"
  timeout 180 bash -c 'while crictl ps -q --name "^kube-apiserver$" | grep -q .; do sleep 2; done'
fi
sed -i 's#--etcd-servers=https://127.0.0.1:2739$#--etcd-servers=https://127.0.0.1:2379#' "$staged"
mv "$staged" "$manifest"
# A kubelet restarted shortly before a static pod's manifest changes may never start the new pod
# (it waits on "unmounted volumes" for good: kubernetes/kubernetes#134908, seen here after the
# restart-the-kubelet decoy). Restarted after the change, it starts it as it does at boot.
if ! timeout 120 bash -c 'until crictl ps -q --name "^kube-apiserver$" | grep -q .; do sleep 3; done'; then
  echo "no kube-apiserver container 120 s after the fix: restarting the kubelet" >&2
  systemctl restart kubelet
fi
# The API server restarts from its manifest; wait until it answers.
timeout 540 bash -c "until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 3; done"
