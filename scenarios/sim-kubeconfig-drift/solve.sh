#!/bin/sh
set -eu
file=/tmp/breakfix-sim/kubeconfig
sed -i 's#^\( *server: *https://[^:]*\):[0-9]*#\1:6443#' "$file"
chmod 600 "$file"
