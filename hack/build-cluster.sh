#!/usr/bin/env bash
# Builds every Go binary the cluster tests run, from the Go module proxy, into one stamped
# cache outside the repository: the control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd), the node (kubelet, kube-proxy, containerd, its runc shim, ctr,
# crictl), kubectl, helm, and Kueue's controller manager with its manifests (kueue.yaml,
# rendered from the module's config/default). One job and one Go build cache, so the node reuses most of the
# control plane's compiled packages. A second run is a no-op. Prints the binaries' folder.
#
# Why a wrapper module: k8s.io/kubernetes requires its staging modules at v0.0.0 and
# maps them with replace directives that only apply in its own main module, so a
# consumer must replace each one with the published v0.<minor>.<patch>.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.4.2}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.37.0}"
KUEUE_VERSION="${KUEUE_VERSION:-v0.17.0}"
CACHE="${STRATOPT_CACHE:-$HOME/.cache/stratopt}"
TAG="k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION-containerd-$CONTAINERD_VERSION-crictl-$CRICTL_VERSION-kueue-$KUEUE_VERSION"
BIN="$CACHE/cluster/$TAG/bin"
STAMP="$BIN/.complete"
STAGING="v0.${K8S_VERSION#v1.}"
MINOR="$(echo "$K8S_VERSION" | cut -d. -f2)"

if [[ -f "$STAMP" ]]; then
  echo "$BIN"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$BIN"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Kubernetes: control plane, node and kubectl from one wrapper module.
mkdir -p "$WORK/k8s" && cd "$WORK/k8s"
go mod init stratopt.invalid/k8sbin >/dev/null 2>&1
GOMOD="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go mod edit -go=1.26.0 -godebug=default=go1.26
for module in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$GOMOD"); do
  go mod edit "-replace=$module=$module@$STAGING"
done
go get "k8s.io/kubernetes@$K8S_VERSION" >&2
COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
{
  printf '//go:build tools\n\npackage tools\n\nimport (\n'
  for command in "${COMMANDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$command"; done
  printf ')\n'
} > tools.go
go mod tidy >&2
LDFLAGS="-s -w"
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS="$LDFLAGS -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR"
  LDFLAGS="$LDFLAGS -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.buildDate=$BUILD_DATE"
done
go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/" "${COMMANDS[@]/#/k8s.io/kubernetes/cmd/}" >&2

# etcd, in its own module so its dependencies do not bump Kubernetes' ones.
mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
go mod init stratopt.invalid/etcdbin >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3 >&2

# containerd without the snapshotters that need cgo or kernel modules this node lacks.
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" -tags "no_btrfs no_devmapper no_zfs" \
  "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" >&2
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" >&2
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2

# Kueue, in its own module; its kustomize tree is rendered with the kubectl just built.
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kueue/cmd/kueue@$KUEUE_VERSION" >&2
KUEUE_DIR="$(go mod download -json "sigs.k8s.io/kueue@$KUEUE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
"$BIN/kubectl" kustomize "$KUEUE_DIR/config/default" > "$BIN/kueue.yaml"

touch "$STAMP"
echo "$BIN"
