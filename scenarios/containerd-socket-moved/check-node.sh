#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
endpoint=$(sed -n 's/^containerRuntimeEndpoint:\s*//p' /var/lib/kubelet/config.yaml | tr -d '"')
socket=${endpoint#unix://}
socket=${socket:-/run/containerd/containerd.sock}
[[ -S $socket ]] || problem "Nothing listens on $socket, where the kubelet on w1 expects the container runtime."
if grep -Eq "[\"']/run/containerd/cri\.sock[\"']" /etc/containerd/config.toml; then
  problem "/etc/containerd/config.toml still makes containerd listen on /run/containerd/cri.sock."
fi
systemctl is-active --quiet containerd || problem "containerd on w1 is not running."
exit $((problems > 0))
