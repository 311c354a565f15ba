#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
servers=$(grep -o -- '--etcd-servers=[^ ]*' /etc/kubernetes/manifests/kube-apiserver.yaml | cut -d= -f2)
[[ $servers == https://127.0.0.1:2379 ]] || problem "kube-apiserver.yaml points --etcd-servers at ${servers:-nothing}; etcd on cp listens for clients on https://127.0.0.1:2379."
if ! kubectl --request-timeout=5s get --raw=/readyz >/dev/null 2>&1; then
  if ((problems == 0)) && [[ -z $(crictl ps -q --name '^kube-apiserver$' 2>/dev/null) ]]; then
    echo "No kube-apiserver container is running although its manifest looks right. A kubelet restarted shortly before a static pod's manifest changes can miss the change: restart the kubelet once more."
  fi
  problem "The API server does not answer /readyz yet; after a fix give it up to a minute."
fi
exit $((problems > 0))
