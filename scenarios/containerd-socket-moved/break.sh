#!/bin/bash
# Moves containerd's gRPC socket to a path the kubelet does not know, then restarts containerd.
set -euo pipefail
config=/etc/containerd/config.toml
sed -i 's#^\(\s*address = \)"/run/containerd/containerd.sock"#\1"/run/containerd/cri.sock"#' "$config"
grep -q '"/run/containerd/cri.sock"' "$config"
systemctl restart containerd
