#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
corefile=$(kubectl --request-timeout=5s -n kube-system get cm coredns -o jsonpath='{.data.Corefile}')
zone=$(echo "$corefile" | awk '$1 == "kubernetes" {print $2; exit}')
[[ $zone == cluster.local ]] || problem "The Corefile's kubernetes plugin answers for \"${zone:-nothing}\", not the cluster domain cluster.local."
ip=$(kubectl --request-timeout=5s -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP}')
# A DNS query without dig: one A question over UDP, answer code and count read from the header.
answer=$(python3 - "$ip" <<'PY'
import random, socket, struct, sys
name = "kubernetes.default.svc.cluster.local"
query = struct.pack(">HHHHHH", random.randint(0, 65535), 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
try:
    s.sendto(query, (sys.argv[1], 53))
    reply = s.recv(512)
    print("ok" if reply[3] & 0x0F == 0 and struct.unpack(">H", reply[6:8])[0] > 0 else f"rcode {reply[3] & 0x0F}")
except OSError as error:
    print(f"no answer ({error})")
PY
)
[[ $answer == ok ]] || problem "kube-dns ($ip) does not resolve kubernetes.default.svc.cluster.local: $answer."
exit $((problems > 0))
