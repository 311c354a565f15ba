#!/bin/bash
# Stops containerd and keeps it from starting at boot. Running containers keep running (shims).
set -euo pipefail
systemctl disable --now containerd 2>/dev/null
