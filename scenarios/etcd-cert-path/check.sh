#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
manifest=/etc/kubernetes/manifests/etcd.yaml
for flag in cert-file key-file trusted-ca-file; do
  file=$(grep -o -- "--$flag=[^ ]*" "$manifest" | sed -n 1p | cut -d= -f2)
  [[ -n $file && -f $file ]] || problem "etcd.yaml: --$flag names ${file:-nothing}, which does not exist on cp."
done
kubectl --request-timeout=5s get --raw=/readyz/etcd >/dev/null 2>&1 || problem "The API server cannot reach etcd yet (/readyz/etcd); after a fix give it a minute."
exit $((problems > 0))
