#!/bin/bash
# Restores the newest snapshot in place of etcd's data, as the member the manifest describes, with
# the revision bumped and marked compacted so every watcher relists instead of trusting its cache.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))
snapshot=$(find /var/backups/etcd -name '*.db' | sort | tail -n 1)
manifest=/etc/kubernetes/manifests/etcd.yaml
flag() { grep -o -- "--$1=[^ ]*" "$manifest" | sed -n 1p | cut -d= -f2-; }
data=$(flag data-dir)
rm -rf "$data.restored"
etcdutl snapshot restore "$snapshot" --data-dir "$data.restored" --name "$(flag name)" \
  --initial-cluster "$(flag initial-cluster)" --initial-advertise-peer-urls "$(flag initial-advertise-peer-urls)" \
  --bump-revision 1000000000 --mark-compacted >/dev/null 2>&1
# The whole control plane restarts on the restored data: the kubelet is stopped and the pods
# removed, so it starts them as at boot (and no component keeps state from the old data).
systemctl stop kubelet
for pod in $(crictl pods -q --namespace kube-system --name '^(etcd|kube-apiserver|kube-controller-manager|kube-scheduler)-'); do
  crictl stopp "$pod" >/dev/null
  crictl rmp "$pod" >/dev/null
done
mv "$data" "$data.before-restore-$(date +%s)"
mv "$data.restored" "$data"
systemctl start kubelet
# Right after a restore the API serves the snapshot's status (pods Running, nodes Ready) before
# anything has checked it: wait for the API server's own readiness and for the node to really run
# the restored invoices pod (a pod sandbox of that name, up).
invoices_running() {
  local pod
  for pod in $(kubectl --request-timeout=5s -n billing get pods -l app=invoices -o jsonpath='{.items[*].metadata.name}' 2>/dev/null); do
    [[ -n $(crictl pods -q --namespace billing --name "^$pod\$" --state ready 2>/dev/null) ]] && return 0
  done
  return 1
}
ready() {
  local nodes
  kubectl --request-timeout=5s get --raw=/readyz >/dev/null 2>&1 && invoices_running &&
    nodes=$(kubectl --request-timeout=5s get nodes --no-headers 2>/dev/null) &&
    [[ -z $(awk '$2 != "Ready"' <<<"$nodes") ]]
}
# Ready six times in a row, 5 s apart: on a busy node the API server may restart once more after
# its first answer (its liveness probe against an etcd still catching up), and a learner's check
# then finds it gone again.
streak=0
while ((streak < 6)); do
  ((SECONDS < deadline)) || { echo "billing or a node is not back and steady within $deadline s" >&2; exit 1; }
  if ready; then streak=$((streak + 1)); else streak=0; fi
  sleep 5
done
