#!/bin/bash
# "Hardening": enables AlwaysPullImages, which sets every new pod's pull policy to Always. With no
# registry, a pull that must happen fails, whatever the node already has.
set -euo pipefail
manifest=/etc/kubernetes/manifests/kube-apiserver.yaml
sed -i 's#--enable-admission-plugins=NodeRestriction$#--enable-admission-plugins=NodeRestriction,AlwaysPullImages#' "$manifest"
grep -q -- '--enable-admission-plugins=NodeRestriction,AlwaysPullImages$' "$manifest"
