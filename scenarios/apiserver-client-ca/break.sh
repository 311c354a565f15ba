#!/bin/bash
# Creates a new, unrelated CA and makes the API server trust only it for client certificates.
set -euo pipefail
pki=/etc/kubernetes/pki
if [[ ! -f $pki/ca-2027.crt ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=kubernetes-2027" -keyout "$pki/ca-2027.key" -out "$pki/ca-2027.crt" 2>/dev/null
fi
manifest=/etc/kubernetes/manifests/kube-apiserver.yaml
sed -i "s#--client-ca-file=$pki/ca.crt\$#--client-ca-file=$pki/ca-2027.crt#" "$manifest"
grep -q -- "--client-ca-file=$pki/ca-2027.crt" "$manifest"
