#!/bin/bash
# Wrong fix: restart the kubelet. For a few seconds it reports no pressure; the disk is as full as before.
set -euo pipefail
systemctl restart kubelet
