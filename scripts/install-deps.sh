#!/usr/bin/env bash
# Installs the Debian packages xturn needs to build, run and test; a no-op when all are present.
set -euo pipefail
pkgs=(gcc make pkg-config libssl-dev openssl zlib1g-dev libcmocka-dev clang libmicrohttpd-dev
      iproute2 ethtool jq coturn procps python3 libbpf-dev libelf-dev bpftool linux-libc-dev tcpdump
      gnuplot-nox libsystemd-dev libcap-dev systemd libclang-rt-14-dev chromium socat iptables
      podman runc mmdebstrap catatonit python3-yaml)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# coturn's package would start its own server; we only use its client tools.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
