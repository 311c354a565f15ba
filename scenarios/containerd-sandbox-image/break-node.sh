#!/bin/bash
# Points containerd's sandbox (pause) image at an older tag than the one the node has, as old
# install guides write it, and restarts containerd. Running pods keep their sandboxes; every new
# one needs the missing image, and the lab cannot pull it.
set -euo pipefail
config=/etc/containerd/config.toml
wrong=registry.k8s.io/pause:3.8
sed -Ei "s#^(\s*sandbox_image\s*=\s*)\"[^\"]*\"#\1\"$wrong\"#" "$config"
grep -Eq "^\s*sandbox_image\s*=\s*\"$wrong\"" "$config"
if [[ $(crictl info 2>/dev/null | jq -r '.config.sandboxImage // empty') != "$wrong" ]]; then
  systemctl restart containerd
fi
