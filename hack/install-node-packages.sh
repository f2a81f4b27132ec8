#!/usr/bin/env bash
# Installs the Debian packages a real test node needs, when any is missing: docker.io (to
# build the images), runc, the CNI plugins, conntrack and iptables (kube-proxy), socat
# (the loopback forwarder), mmdebstrap (the images' base), libc6-dev (the static pause) and
# chromium-headless-shell (renders the HTML report in a test, without a network).
set -euo pipefail
PACKAGES=(docker.io runc containernetworking-plugins conntrack iptables socat mmdebstrap libc6-dev
  chromium-headless-shell)
missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
