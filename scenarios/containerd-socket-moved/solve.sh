#!/bin/bash
set -euo pipefail
config=${BREAKFIX_CONTAINERD_CONFIG:-/etc/containerd/config.toml}
# Either TOML quoting (containerd 1.7 or 2.x); a basic string is valid in both.
sed -Ei "s#[\"']/run/containerd/cri\.sock[\"']#\"/run/containerd/containerd.sock\"#" "$config"
[[ -n ${BREAKFIX_CONTAINERD_CONFIG:-} ]] && exit 0
# The break, a wrong fix or two and this restart can come within seconds on a fast node: systemd
# then refuses the start as too frequent. Clear the count first, as an admin would.
systemctl reset-failed containerd kubelet
systemctl restart containerd
systemctl restart kubelet
