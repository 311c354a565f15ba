#!/bin/bash
# Wrong fix: restart the API server and the kubelet without touching the certificate.
set -euo pipefail
crictl stop "$(crictl ps -q --name '^kube-apiserver$')" >/dev/null
systemctl restart kubelet
