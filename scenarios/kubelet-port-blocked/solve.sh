#!/bin/bash
set -euo pipefail
sed -i '/10250/d' /etc/nftables-hardening.conf
systemctl restart node-hardening.service
if grep -q 10250 <<<"$(nft list table inet hardening)"; then
  echo "the kubelet rule is still loaded" >&2
  exit 1
fi
