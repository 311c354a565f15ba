#!/bin/bash
set -euo pipefail
systemctl enable --now containerd
