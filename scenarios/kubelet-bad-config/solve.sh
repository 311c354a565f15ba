#!/bin/bash
set -euo pipefail
sed -i 's#clientCAFile: .*#clientCAFile: /etc/kubernetes/pki/ca.crt#' /var/lib/kubelet/config.yaml
systemctl restart kubelet
