#!/bin/bash
# The sandbox image must be the pause image kubeadm pre-pulled: nothing else is on the node.
set -euo pipefail
config=/etc/containerd/config.toml
pause=$(kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/pause:")
sed -Ei "s#^(\s*sandbox_image\s*=\s*)\"[^\"]*\"#\1\"$pause\"#" "$config"
systemctl restart containerd
