#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
# The kubeconfigs the break changed: each must work again, not be gone.
list=/var/lib/breakfix/admin-kubeconfig-port.files
mapfile -t broken < <(cat "$list" 2>/dev/null)
[[ ${#broken[@]} -gt 0 ]] || broken=(/etc/kubernetes/admin.conf /root/.kube/config)
for config in "${broken[@]}"; do
  if [[ ! -f $config ]]; then
    problem "$config is gone: repair it rather than delete it, kubectl and kubeadm read it."
    continue
  fi
  server=$(sed -n 's/^\s*server:\s*//p' "$config" | sed -n 1p)
  # A request that needs the file's credentials too: /readyz answers anyone.
  if ! kubectl --kubeconfig "$config" --request-timeout=5s get nodes -o name >/dev/null 2>&1; then
    problem "kubectl with $config cannot list the nodes through the API server at ${server:-(no server)}."
  fi
done
exit $((problems > 0))
