#!/bin/bash
# Points etcd's serving certificate at a file the rotation never wrote.
set -euo pipefail
manifest=/etc/kubernetes/manifests/etcd.yaml
sed -i 's#--cert-file=/etc/kubernetes/pki/etcd/server.crt$#--cert-file=/etc/kubernetes/pki/etcd/server-2027.crt#' "$manifest"
grep -q -- '--cert-file=/etc/kubernetes/pki/etcd/server-2027.crt' "$manifest"
