#!/usr/bin/env bash
# Checks the GitHub workflows with actionlint (built once from the Go module proxy into the
# same cache as the cluster's binaries) and shellcheck (Debian's, installed when missing).
# The workflows cannot run here; this is their test.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
BIN="${STRATOPT_CACHE:-$HOME/.cache/stratopt}/actionlint-$VERSION"
if [[ ! -x "$BIN/actionlint" ]]; then
  GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$BIN" CGO_ENABLED=0 \
    go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION" >&2
fi
# actionlint checks the workflows' shell steps with shellcheck when it is there.
if ! command -v shellcheck >/dev/null; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
fi
"$BIN/actionlint" -no-color .github/workflows/*.yaml
