#!/bin/bash
# Wrong fix: restart the kubelet (and with it the API server) without touching its flags.
set -euo pipefail
systemctl restart kubelet
