#!/usr/bin/env bash
# The Containerfile's build stage base, made from Debian packages (no container registry):
# a bookworm root filesystem with xturn's build dependencies, made by mmdebstrap and imported
# into podman's store as $IMAGE_BUILD_BASE. Skipped when that image exists and was made from
# this very list of packages (its label). Needs root (mmdebstrap, podman).
#   scripts/image-base.sh OUTDIR
set -euo pipefail
out=${1:?usage: image-base.sh OUTDIR}
name=${IMAGE_BUILD_BASE:-localhost/xturn-build-base:bookworm}
suite=bookworm
# The build stage's packages: the same as the Containerfile installs on a plain debian:bookworm.
pkgs=$(sed -n 's/^ARG BUILD_DEPS="\(.*\)"$/\1/p' "$(dirname "$0")/../Containerfile")
[ -n "$pkgs" ] || { echo "image-base: no ARG BUILD_DEPS line in the Containerfile" >&2; exit 1; }
key=$(printf '%s %s' "$suite" "$pkgs" | sha256sum | cut -c1-16)
podman() { command podman --runtime runc "$@"; }

if [ "$(podman image inspect --format '{{index .Labels "xturn.base-key"}}' "$name" 2>/dev/null)" = "$key" ]; then
    echo "image-base: $name is up to date ($key)" >&2
    exit 0
fi
mkdir -p "$out"
tar="$out/build-base-$key.tar"
if [ ! -s "$tar" ]; then
    echo "image-base: mmdebstrap $suite with: $pkgs" >&2
    # The host's mirror and security suite; minbase: no init, no documentation.
    mmdebstrap --variant=minbase --format=tar --include="${pkgs// /,}" \
        --dpkgopt='path-exclude=/usr/share/{doc,man,info,locale}/*' \
        "$suite" "$tar.tmp" \
        "deb http://deb.debian.org/debian $suite main" \
        "deb http://deb.debian.org/debian $suite-updates main" \
        "deb http://deb.debian.org/debian-security $suite-security main"
    mv "$tar.tmp" "$tar"
fi
podman import --change "LABEL xturn.base-key=$key" --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$tar" "$name" >/dev/null
echo "image-base: imported $name ($key)" >&2
