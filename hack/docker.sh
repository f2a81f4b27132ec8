# Sourced by the image scripts: DOCKER, a WORK folder removed on exit, and a dockerd
# started when none runs (then stopped on exit: an idle dockerd takes 5-10% of a core from
# the tests and benchmarks). Needs CACHE.
DOCKER="$(command -v /usr/bin/docker || command -v docker)"
export DOCKER_BUILDKIT=0
WORK="$(mktemp -d)"
DOCKERD_PID=""
cleanup() {
  rm -rf "$WORK"
  if [[ -n "$DOCKERD_PID" ]]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    # Wait for it to exit, so that a next run does not find it half stopped.
    for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    # dockerd bind-mounts the host's network namespace here and leaves it on exit.
    if mountpoint -q /run/docker/netns/default; then umount /run/docker/netns/default; fi
  fi
}
trap cleanup EXIT

if ! "$DOCKER" info >/dev/null 2>&1; then
  # No bridge and no iptables rules: builds use the host network, nothing else is touched.
  echo "starting dockerd (log: $CACHE/dockerd.log)" >&2
  setsid dockerd --bridge=none --iptables=false --ip-masq=false >"$CACHE/dockerd.log" 2>&1 < /dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 120); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$DOCKER" info >/dev/null
fi

