#!/bin/bash
set -euo pipefail
config=${BREAKFIX_CONTAINERD_CONFIG:-/etc/containerd/config.toml}
# Either TOML quoting (containerd 1.7 or 2.x); a basic string is valid in both.
sed -Ei "s#[\"']/run/containerd/cri\.sock[\"']#\"/run/containerd/containerd.sock\"#" "$config"
[[ -n ${BREAKFIX_CONTAINERD_CONFIG:-} ]] && exit 0
systemctl restart containerd
systemctl restart kubelet
