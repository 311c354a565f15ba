#!/bin/bash
# Adds a swap file, turns it on, makes it permanent and restarts the kubelet, which then refuses to run.
set -euo pipefail
swap=/swap.img
if [[ ! -f $swap ]]; then
  fallocate -l 256M "$swap"
  chmod 600 "$swap"
  mkswap "$swap" >/dev/null
fi
grep -qx "$swap" <<<"$(swapon --show=NAME --noheadings)" || swapon "$swap"
grep -q "^$swap " /etc/fstab || echo "$swap none swap sw 0 0" >>/etc/fstab
systemctl restart kubelet
