#!/bin/bash
# Wrong fix: create the file the kubelet says is missing. An empty file is no CA.
set -euo pipefail
touch /etc/kubernetes/pki/ca-bundle.crt
systemctl restart kubelet
