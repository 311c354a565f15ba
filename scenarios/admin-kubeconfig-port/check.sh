#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
for config in /etc/kubernetes/admin.conf /root/.kube/config /home/*/.kube/config; do
  [[ -f $config ]] || continue
  server=$(sed -n 's/^\s*server:\s*//p' "$config" | head -n 1)
  if ! kubectl --kubeconfig "$config" --request-timeout=5s get --raw=/readyz >/dev/null 2>&1; then
    echo "kubectl with $config cannot reach the API server at $server."
    problems=$((problems + 1))
  fi
done
exit $((problems > 0))
