#!/bin/bash
# Gives the kubelet a flag value it cannot parse: it exits at start, and systemd restarts it every
# 10 s (kubeadm's unit has Restart=always) — a crash loop. Writing the same file twice is harmless.
set -euo pipefail
cat > /etc/default/kubelet <<'CONF'
KUBELET_EXTRA_ARGS=--max-pods=lots
CONF
systemctl restart kubelet || true
