#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and etcd from the
# Go module proxy into a cache outside the repository, and helm (the cluster tests install
# the operator's RBAC from charts/stratopt). A second run is a no-op.
#
# Why a wrapper module: k8s.io/kubernetes requires its staging modules at v0.0.0 and
# maps them with replace directives that only apply in its own main module, so a
# consumer must replace each one with the published v0.<minor>.<patch>.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"
CACHE="${STRATOPT_CACHE:-$HOME/.cache/stratopt}"
BIN="$CACHE/controlplane/$K8S_VERSION-etcd-$ETCD_VERSION/bin"
STAGING="v0.${K8S_VERSION#v1.}"
MINOR="$(echo "$K8S_VERSION" | cut -d. -f2)"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$BIN"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [[ ! -x "$BIN/helm" ]]; then
  GOBIN="$BIN" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
fi

if [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" && -x "$BIN/kube-scheduler" && -x "$BIN/etcd" ]]; then
  echo "$BIN"
  exit 0
fi

# Kubernetes server binaries.
mkdir -p "$WORK/k8s" && cd "$WORK/k8s"
go mod init stratopt.invalid/k8sbin >/dev/null 2>&1
GOMOD="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go mod edit -go=1.26.0 -godebug=default=go1.26
for module in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$GOMOD"); do
  go mod edit "-replace=$module=$module@$STAGING"
done
go get "k8s.io/kubernetes@$K8S_VERSION" >&2
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
go mod tidy >&2
LDFLAGS="-s -w"
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS="$LDFLAGS -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR"
  LDFLAGS="$LDFLAGS -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.buildDate=$BUILD_DATE"
done
go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler >&2

# etcd, in its own module so its dependencies do not bump Kubernetes' ones.
mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
go mod init stratopt.invalid/etcdbin >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3 >&2

echo "$BIN"
