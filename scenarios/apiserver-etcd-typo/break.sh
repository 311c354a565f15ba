#!/bin/bash
# A "typo" in the API server's etcd address; the kubelet restarts it with the bad flag.
set -euo pipefail
manifest=/etc/kubernetes/manifests/kube-apiserver.yaml
sed -i 's#--etcd-servers=https://127.0.0.1:2379$#--etcd-servers=https://127.0.0.1:2739#' "$manifest"
grep -q -- '--etcd-servers=https://127.0.0.1:2739' "$manifest"
