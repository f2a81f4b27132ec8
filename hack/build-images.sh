#!/usr/bin/env bash
# Builds the images the cluster tests run, from the project's own Dockerfiles, and saves
# each as an archive that the test node imports into containerd. No container registry is
# reachable here, so the base is bootstrapped from Debian packages (Python 3.11) and passed
# as BASE_IMAGE; pip runs in a BUILD_IMAGE that adds this machine's CA bundle, which the
# final images do not carry. Starts dockerd when none is running and stops the one it
# started when done (an idle dockerd takes 5-10% of a core from the tests and benchmarks).
# Prints the path of a JSON file naming the images and their archives.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${STRATOPT_CACHE:-$HOME/.cache/stratopt}"
OUT="$CACHE/images"
SUITE="${DEBIAN_SUITE:-bookworm}"
BASE="stratopt-base:$SUITE"
BUILDER="stratopt-build:$SUITE"
GPU_TENSORFLOW="${GPU_TENSORFLOW:-tensorflow-cpu}"
mkdir -p "$OUT"
# shellcheck source=hack/docker.sh
source hack/docker.sh

if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$WORK/base.tar" http://deb.debian.org/debian >&2
  "$DOCKER" import --change 'CMD ["python3"]' "$WORK/base.tar" "$BASE" >&2
fi
mkdir -p "$WORK/builder"
cp /etc/ssl/certs/ca-certificates.crt "$WORK/builder/ca-certificates.crt"
printf 'FROM %s\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\nENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n' \
  "$BASE" > "$WORK/builder/Dockerfile"
"$DOCKER" build -q -t "$BUILDER" "$WORK/builder" >&2

# Each stage is tagged too, so that the build cache is never an untagged image: untagged
# images built on our bases are superseded ones, removed below (left behind, every change
# of dependencies would keep gigabytes on the disk).
build() {  # TAG DOCKERFILE [BUILD ARG...]
  local tag="$1" dockerfile="$2"
  shift 2
  local started=$SECONDS stage
  local common=(--network host -f "$dockerfile" --build-arg "BASE_IMAGE=$BASE"
    --build-arg "BUILD_IMAGE=$BUILDER" "$@" .)
  for stage in deps wheel; do
    "$DOCKER" build -t "${tag%%:*}-$stage:${tag#*:}" --target "$stage" "${common[@]}" \
      >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log" >&2; exit 1; }
  done
  "$DOCKER" build -t "$tag" "${common[@]}" >"$WORK/build.log" 2>&1 \
    || { tail -50 "$WORK/build.log" >&2; exit 1; }
  echo "built $tag in $((SECONDS - started)) s" >&2
}

remove_superseded() {  # untagged images whose ancestry reaches BASE or BUILDER
  local roots id parent removed=0
  roots=" $("$DOCKER" image inspect -f '{{.Id}}' "$BASE" "$BUILDER" | tr '\n' ' ') "
  for id in $("$DOCKER" image ls --quiet --no-trunc --filter dangling=true); do
    parent="$id"
    while [[ -n "$parent" && "$roots" != *" $parent "* ]]; do
      parent="$("$DOCKER" image inspect -f '{{.Parent}}' "$parent" 2>/dev/null || true)"
    done
    if [[ -n "$parent" ]] && "$DOCKER" image rm "$id" >/dev/null 2>&1; then
      removed=$((removed + 1))
    fi
  done
  echo "removed $removed superseded images" >&2
}

build stratopt-operator:dev operator/Dockerfile
build stratopt:dev jobs/Dockerfile
build stratopt-gpu:dev jobs/Dockerfile --build-arg "TENSORFLOW=$GPU_TENSORFLOW"
gcc -Os -static -o hack/pause/pause hack/pause/pause.c
"$DOCKER" build -q -t stratopt-pause:dev hack/pause >&2
rm -f hack/pause/pause
remove_superseded

# One archive for all (shared layers once), written again only when an image changed.
IMAGES=(stratopt-operator:dev stratopt:dev stratopt-gpu:dev stratopt-pause:dev)
ARCHIVE="$OUT/images.tar"
ids="$("$DOCKER" image inspect -f '{{.Id}}' "${IMAGES[@]}")"
if [[ ! -f "$ARCHIVE" || ! -f "$ARCHIVE.ids" || "$(cat "$ARCHIVE.ids")" != "$ids" ]]; then
  rm -f "$ARCHIVE"
  "$DOCKER" save -o "$ARCHIVE.tmp" "${IMAGES[@]}" && mv "$ARCHIVE.tmp" "$ARCHIVE"
  echo "$ids" > "$ARCHIVE.ids"
fi
for image in "${IMAGES[@]}"; do
  echo "$image $(("$("$DOCKER" image inspect -f '{{.Size}}' "$image")" / 1048576)) MiB" >&2
done
cat > "$OUT/images.json" <<JSON
{"operator": "stratopt-operator:dev", "worker": "stratopt:dev", "gpuWorker": "stratopt-gpu:dev",
 "pause": "stratopt-pause:dev", "archives": ["$ARCHIVE"],
 "ids": {$(for image in "${IMAGES[@]}"; do
   printf '"%s": "%s",' "$image" "$("$DOCKER" image inspect -f '{{.Id}}' "$image")"; done | sed 's/,$//')}}
JSON
echo "$OUT/images.json"
