#!/usr/bin/env bash
# Build a Debian bookworm base image without any container registry:
# debootstrap a minimal root filesystem from the host's apt mirror and `docker import` it.
# Usage: docker/build-base-image.sh [TAG]   (default localbase:bookworm)
# Does nothing when TAG already exists, unless FORCE=1.
set -euo pipefail

TAG=${1:-localbase:bookworm}
SUITE=${SUITE:-bookworm}

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG already present"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

# The first Debian mirror apt is configured with (deb822 or one-line format); the image's own
# sources.list then points at the same mirror, so apt inside builds needs no extra config.
MIRROR=${MIRROR:-}
if [[ -z "$MIRROR" && -r /etc/apt/sources.list.d/debian.sources ]]; then
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z "$MIRROR" && -r /etc/apt/sources.list ]]; then
  MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
fi
MIRROR=${MIRROR:-http://deb.debian.org/debian}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "debootstrap --variant=minbase $SUITE from $MIRROR"
if ! debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  tail -n 30 "$WORK/debootstrap.log" >&2
  exit 1
fi
# Keep the image small: the .debs debootstrap downloaded are not needed afterwards.
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
tar -C "$WORK/rootfs" -c . | docker import - "$TAG" >/dev/null
echo "imported $TAG"
