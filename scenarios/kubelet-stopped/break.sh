#!/bin/bash
# Stops the kubelet and keeps it from starting at boot. Safe to run twice.
set -euo pipefail
systemctl disable --now kubelet 2>/dev/null
