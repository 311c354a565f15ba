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
sed -i 's#--enable-admission-plugins=NodeRestriction,AlwaysPullImages$#--enable-admission-plugins=NodeRestriction#' "$staged"
mv "$staged" "$manifest"
# A kubelet restarted shortly before a static pod's manifest changes may never start the new pod
# (it waits on "unmounted volumes" for good: kubernetes/kubernetes#134908, seen here after the
# restart-the-kubelet decoy). Restarted after the change, it starts it as it does at boot.
if ! timeout 120 bash -c 'until crictl ps -q --name "^kube-apiserver$" | grep -q .; do sleep 3; done'; then
  echo "no kube-apiserver container 120 s after the fix: restarting the kubelet" >&2
  systemctl restart kubelet
fi
# The kubelet restarts the API server from its manifest; wait until a new pod keeps its policy
# (a server-side dry run: admission runs, nothing is created).
deadline=$((SECONDS + 540))
while ((SECONDS < deadline)); do
  policy=$(kubectl --request-timeout=5s run admission-probe --image=registry.k8s.io/pause --image-pull-policy=IfNotPresent \
    --dry-run=server -o jsonpath='{.spec.containers[0].imagePullPolicy}' 2>/dev/null || true)
  [[ $policy == IfNotPresent ]] && exit 0
  sleep 2
done
echo "the API server still admits pods with imagePullPolicy ${policy:-(no answer)}" >&2
exit 1
