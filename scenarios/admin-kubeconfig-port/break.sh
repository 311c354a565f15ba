#!/bin/bash
# Moves the server of every admin kubeconfig on this node to a port nothing listens on, and
# remembers which files it broke, so the check can tell a repaired file from a deleted one.
set -euo pipefail
list=/var/lib/breakfix/admin-kubeconfig-port.files
mkdir -p "${list%/*}"
: >"$list"
for config in /etc/kubernetes/admin.conf /root/.kube/config /home/*/.kube/config; do
  [[ -f $config ]] || continue
  sed -i 's#^\(\s*server: https://[^ ]*\):6443$#\1:8443#' "$config"
  echo "$config" >>"$list"
done
