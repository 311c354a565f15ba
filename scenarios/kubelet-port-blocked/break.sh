#!/bin/bash
# Installs a "hardening" firewall on cp that, among harmless rules, drops the kubelet API port.
set -euo pipefail
rules=/etc/nftables-hardening.conf
cat >"$rules" <<'NFT'
#!/usr/sbin/nft -f
# Node hardening (ticket SEC-2291). Replaces only its own table: kube-proxy and the CNI keep theirs.
table inet hardening
delete table inet hardening
table inet hardening {
  chain input {
    type filter hook input priority filter - 10; policy accept;
    tcp dport { 111, 2049 } counter drop comment "no NFS or portmapper"
    tcp dport { 10250, 10255 } counter drop comment "kubelet API must not be exposed"
    icmp type timestamp-request counter drop
  }
}
NFT
cat >/etc/systemd/system/node-hardening.service <<UNIT
[Unit]
Description=Node hardening firewall (SEC-2291)
Wants=network-pre.target
Before=network-pre.target kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f $rules
ExecStop=/usr/sbin/nft delete table inet hardening

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable node-hardening.service >/dev/null 2>&1
systemctl restart node-hardening.service
# A here-string, not a pipe: under pipefail, nft dies of SIGPIPE (exit 141) when grep -q stops
# reading at the first match, and the break failed although the rule was loaded.
grep -q 10250 <<<"$(nft list table inet hardening)"
