#!/bin/bash
# Frees the space, then restarts the kubelet so it re-evaluates the disk now instead of holding
# DiskPressure for the 5 minutes of evictionPressureTransitionPeriod.
set -euo pipefail
rm -f /var/log/app/debug.log
systemctl restart kubelet
