#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
ca=$(grep -o -- '--client-ca-file=[^ ]*' /etc/kubernetes/manifests/kube-apiserver.yaml | cut -d= -f2)
client=$(mktemp)
trap 'rm -f "$client"' EXIT
grep 'client-certificate-data' /etc/kubernetes/admin.conf | awk '{print $2}' | base64 -d >"$client"
if [[ ! -f $ca ]]; then
  problem "--client-ca-file names ${ca:-nothing}, which does not exist."
elif ! openssl verify -CAfile "$ca" "$client" >/dev/null 2>&1; then
  problem "--client-ca-file is $ca, which did not sign the cluster's client certificates (admin.conf, kubelets)."
fi
if ! kubectl --request-timeout=5s --kubeconfig /etc/kubernetes/admin.conf get --raw=/readyz >/dev/null 2>&1; then
  if ((problems == 0)) && [[ -z $(crictl ps -q --name '^kube-apiserver$' 2>/dev/null) ]]; then
    echo "No kube-apiserver container is running although its manifest looks right. A kubelet restarted shortly before a static pod's manifest changes can miss the change: restart the kubelet once more."
  fi
  problem "kubectl with /etc/kubernetes/admin.conf is still refused; after a fix give the API server a minute."
fi
exit $((problems > 0))
