#!/bin/bash
set -euo pipefail
sed -i 's#"/run/containerd/cri.sock"#"/run/containerd/containerd.sock"#' /etc/containerd/config.toml
systemctl restart containerd
systemctl restart kubelet
