#!/bin/bash
# Moves containerd's gRPC socket to a path the kubelet does not know, then restarts containerd.
# containerd 1.7 (config version 2) writes "basic" TOML strings, 2.x (version 3) 'literal' ones:
# both are matched, and the [grpc] table is where the socket lives in either.
set -euo pipefail
config=${BREAKFIX_CONTAINERD_CONFIG:-/etc/containerd/config.toml}
moved="^\s*address\s*=\s*[\"']/run/containerd/cri\.sock[\"']"
if ! grep -Eq "$moved" "$config"; then
  if grep -Eq "^\s*address\s*=\s*[\"']/run/containerd/containerd\.sock[\"']" "$config"; then
    sed -Ei "s#^(\s*address\s*=\s*)[\"']/run/containerd/containerd\.sock[\"']#\1\"/run/containerd/cri.sock\"#" "$config"
  elif grep -q '^\[grpc\]' "$config"; then
    # The default socket, left implicit: say otherwise in the table.
    sed -i '/^\[grpc\]/a\  address = "/run/containerd/cri.sock"' "$config"
  else
    printf '\n[grpc]\n  address = "/run/containerd/cri.sock"\n' >>"$config"
  fi
fi
grep -Eq "$moved" "$config"
[[ -n ${BREAKFIX_CONTAINERD_CONFIG:-} ]] || systemctl restart containerd
