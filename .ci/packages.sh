# Sourced by .ci/demo and .ci/test: the Debian packages each needs, in one list so the two cannot drift, and
# `install_missing`, which apt-installs those of its arguments not installed yet (Node.js and npm when there is
# no `node` at all; .ci/node.sh then makes sure it is new enough).
# To build and run `vamp serve`: protoc and the protobuf headers (etcd-client's build script), HAProxy.
demo_packages=(protobuf-compiler libprotobuf-dev haproxy)
# The real servers the tests start, and Chromium for the UI's browser tests.
test_packages=("${demo_packages[@]}" etcd-server etcd-client zookeeper redis-server postgresql socat docker.io busybox-static podman chromium)

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    local sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}
