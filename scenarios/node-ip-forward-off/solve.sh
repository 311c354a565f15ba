#!/bin/bash
set -euo pipefail
rm -f /etc/sysctl.d/99-zz-hardening.conf
sysctl -q -w net.ipv4.ip_forward=1
