#!/usr/bin/env bash
# Fetches the CustomResourceDefinitions of the projects the chart's optional parts render
# objects of (the Prometheus Operator's ServiceMonitor), from the Go module proxy, into a
# stamped cache outside the repository. A second run is a no-op. Prints their folder.
set -euo pipefail

PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
CACHE="${STRATOPT_CACHE:-$HOME/.cache/stratopt}"
OUT="$CACHE/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"

if [[ -f "$OUT/.complete" ]]; then
  echo "$OUT"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
module="github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
DIR="$(go mod download -json "$module" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
mkdir -p "$OUT"
cp "$DIR/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$OUT/"
touch "$OUT/.complete"
echo "$OUT"
