#!/usr/bin/env bash
# `make image`: xturn's container image from the Containerfile, on a machine without any
# container registry: the build stage's base comes from Debian packages (image-base.sh), the
# runtime stage is scratch. The image is labelled with the hash of its inputs (Containerfile,
# Makefile, mk/, src/ and this script's base) and not built again while that matches.
#   scripts/image.sh
# Environment: IMAGE (default localhost/xturn:latest), IMAGE_BUILD_BASE. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${IMAGE:-localhost/xturn:latest}
export IMAGE_BUILD_BASE=${IMAGE_BUILD_BASE:-localhost/xturn-build-base:bookworm}
# crun fails where cgroups are hybrid; runc works everywhere podman does.
podman() { command podman --runtime runc "$@"; }

# What the image is made of: a change to any of these makes a new image.
inputs_key() {
    find Containerfile .containerignore Makefile mk src scripts/image-base.sh -type f -print0 |
        sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}

missing=()
for c in podman runc mmdebstrap; do
    command -v "$c" >/dev/null || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "image: missing ${missing[*]} (run as root to install them)" >&2; exit 1; }
    echo "image: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

key=$(inputs_key)
if [ "$(podman image inspect --format '{{index .Labels "xturn.inputs"}}' "$image" 2>/dev/null)" = "$key" ]; then
    echo "image: $image is up to date ($key)" >&2
    exit 0
fi
scripts/image-base.sh build/image
old=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
# Limits the build's containers may set (the hard ones, or less: runc refused 96367 processes
# here, where 4096 works).
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
podman build --network none --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
    --build-arg "BUILD_BASE=$IMAGE_BUILD_BASE" --label "xturn.inputs=$key" \
    -t "$image" -f Containerfile .
# The image this one replaces, now untagged (the build stage's layers stay, as cache).
new=$(podman image inspect --format '{{.Id}}' "$image")
[ -z "$old" ] || [ "$old" = "$new" ] || podman rmi "$old" >/dev/null 2>&1 || true
echo "image: built $image ($key), $(podman image inspect --format '{{.Size}}' "$image") bytes" >&2
