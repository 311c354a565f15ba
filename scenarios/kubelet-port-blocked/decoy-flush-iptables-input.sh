#!/bin/bash
# Wrong fix: open the iptables INPUT chain. The rule lives in an nftables table of its own, which
# iptables does not see.
set -euo pipefail
iptables -P INPUT ACCEPT
iptables -D INPUT -p tcp --dport 10250 -j DROP 2>/dev/null || true
