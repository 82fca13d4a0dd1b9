#!/usr/bin/env bash
# `make run`: a demo relay on loopback with a fresh REST API secret, JSON logs on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
secret=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
cat >&2 <<MSG
xturn demo: listening on 127.0.0.1:3478 and [::1]:3478, realm "xturn"
  secret: $secret
  try it (coturn's client tools; the peer on 127.0.0.2 because the relay's own address is
  reserved for relay-to-self):
    turnutils_peer -L 127.0.0.2 &
    turnutils_uclient -W $secret -e 127.0.0.2 127.0.0.1
  stop with Ctrl-C.
MSG
# The secret goes through the environment, not the command line, so ps does not show it.
export XTURN_AUTH_SECRET="$secret"
exec build/xturn --listen 127.0.0.1:3478 --listen '[::1]:3478' --realm xturn \
    --allow-peer 127.0.0.0/8 --allow-peer ::1/128
