#!/bin/bash
# Turns IP forwarding off on this node, now and at every boot ("hardening").
set -euo pipefail
cat >/etc/sysctl.d/99-zz-hardening.conf <<'SYSCTL'
# CIS hardening: this host is not a router
net.ipv4.ip_forward = 0
SYSCTL
sysctl -q -w net.ipv4.ip_forward=0
