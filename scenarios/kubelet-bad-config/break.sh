#!/bin/bash
# Points the kubelet's client CA at a file that does not exist, then restarts it.
set -euo pipefail
config=/var/lib/kubelet/config.yaml
sed -i 's#clientCAFile: /etc/kubernetes/pki/ca.crt$#clientCAFile: /etc/kubernetes/pki/ca-bundle.crt#' "$config"
grep -q 'clientCAFile: /etc/kubernetes/pki/ca-bundle.crt' "$config"
systemctl restart kubelet
