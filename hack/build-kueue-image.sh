#!/usr/bin/env bash
# Packs Kueue's controller manager, built from the Go module proxy by build-cluster.sh, into
# an image on the project's Debian base (from build-images.sh), and saves it as an archive
# the test node imports. Prints the path of a JSON file naming the image, its archive and
# Kueue's manifests.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${STRATOPT_CACHE:-$HOME/.cache/stratopt}"
OUT="$CACHE/images"
BASE="stratopt-base:${DEBIAN_SUITE:-bookworm}"
IMAGE="stratopt-kueue:dev"
BIN="$(bash hack/build-cluster.sh | tail -1)"
mkdir -p "$OUT"
# shellcheck source=hack/docker.sh
source hack/docker.sh

"$DOCKER" image inspect "$BASE" >/dev/null 2>&1 \
  || { echo "no $BASE image: run hack/build-images.sh first" >&2; exit 1; }
cp "$BIN/kueue" hack/kueue/Dockerfile "$WORK/"
"$DOCKER" build -q -t "$IMAGE" --build-arg "BASE_IMAGE=$BASE" "$WORK" >&2

ARCHIVE="$OUT/kueue.tar"
id="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE")"
if [[ ! -f "$ARCHIVE" || ! -f "$ARCHIVE.id" || "$(cat "$ARCHIVE.id")" != "$id" ]]; then
  "$DOCKER" save -o "$ARCHIVE.tmp" "$IMAGE" && mv "$ARCHIVE.tmp" "$ARCHIVE"
  echo "$id" > "$ARCHIVE.id"
fi
cat > "$OUT/kueue.json" <<JSON
{"image": "$IMAGE", "archive": "$ARCHIVE", "manifests": "$BIN/kueue.yaml"}
JSON
echo "$OUT/kueue.json"
