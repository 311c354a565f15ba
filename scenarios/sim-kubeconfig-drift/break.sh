#!/bin/sh
# Writes a kubeconfig whose server port is wrong and whose mode is too open.
# Running it twice leaves the same broken file.
set -eu
dir=/tmp/breakfix-sim
mkdir -p "$dir"
cat >"$dir/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: ${BREAKFIX_LAB_ID:-lab}
    cluster:
      server: https://cp-api:6444
contexts:
  - name: admin
    context: {cluster: ${BREAKFIX_LAB_ID:-lab}, user: admin}
current-context: admin
users:
  - name: admin
    user: {token: not-a-real-token}
KUBECONFIG
chmod 644 "$dir/kubeconfig"
