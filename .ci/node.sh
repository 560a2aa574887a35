# Sourced by .ci/test and .ci/demo: makes a Node.js that can build and test the web UI (Vite 7 needs
# Node >= 20.19) the first `node` on PATH. The machine's Node is used when it is new enough; otherwise (Debian
# bookworm's own `nodejs` is 18) Node 22 is installed from the npm registry (the `node` package) under
# ~/.cache/vamp-node, with the npm that is there.
node_is_new_enough() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if ! node_is_new_enough; then
  vamp_node="${HOME}/.cache/vamp-node"
  if [ ! -x "${vamp_node}/node_modules/.bin/node" ]; then
    echo "installing Node.js 22 from the npm registry into ${vamp_node} ($(node --version 2>/dev/null || echo 'no node') is too old for Vite)"
    npm install --no-audit --no-fund --loglevel=error --prefix "${vamp_node}" node@22 >/dev/null
  fi
  export PATH="${vamp_node}/node_modules/.bin:${PATH}"
  node_is_new_enough || { echo "Node.js >= 20.19 is needed to build the web UI; found $(node --version)" >&2; exit 1; }
fi
