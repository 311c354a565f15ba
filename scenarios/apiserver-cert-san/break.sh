#!/bin/bash
# Reissues the API server's serving certificate (same key, signed by the cluster CA) without the
# control-plane endpoint name every kubeconfig uses (cp-api.<lab namespace>.svc.<domain>), then
# restarts the API server so every client reconnects and meets the new certificate.
set -euo pipefail
pki=/etc/kubernetes/pki
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
server=$(awk '$1 == "server:" { print $2; exit }' "$KUBECONFIG")
host=${server#https://}
host=${host%:*}
# "DNS:cp, DNS:kubernetes, ..., IP Address:10.96.0.1" -> one SAN per line, in openssl's config syntax
sans=$(openssl x509 -in "$pki/apiserver.crt" -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | tr ',' '\n' |
  sed 's/^IPAddress:/IP:/')
grep -qx "DNS:$host" <<<"$sans" || exit 0 # already reissued without it
kept=$(grep -v -e '^DNS:cp-api' <<<"$sans" | paste -sd, -)
ext=$(mktemp)
trap 'rm -f "$ext"' EXIT
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" "subjectAltName=$kept" >"$ext"
openssl req -new -key "$pki/apiserver.key" -subj "/CN=kube-apiserver" |
  openssl x509 -req -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 12)" -days 365 \
    -extfile "$ext" -out "$pki/apiserver.crt.new" 2>/dev/null
mv "$pki/apiserver.crt.new" "$pki/apiserver.crt"
# The kubelet restarts the container (the pod and its manifest are unchanged).
crictl stop "$(crictl ps -q --name '^kube-apiserver$')" >/dev/null
# Back when it answers under a name the certificate still carries (seconds on KVM, minutes emulated).
timeout "$(left)" bash -c 'until kubectl --request-timeout=5s --tls-server-name=kubernetes get --raw=/readyz >/dev/null 2>&1; do sleep 3; done'
