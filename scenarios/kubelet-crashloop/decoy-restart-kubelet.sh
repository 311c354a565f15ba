#!/bin/bash
# Wrong fix: restart the kubelet (and clear its failure count) without fixing its flags.
set -euo pipefail
systemctl reset-failed kubelet
systemctl restart kubelet || true
