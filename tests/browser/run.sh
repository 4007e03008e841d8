#!/usr/bin/env bash
# GraphiQL in headless Chromium and the README's examples, against `tandem serve --demo`
# (README, "Quick start"). Installs Debian's Chromium when it is missing and this directory's npm
# packages (package-lock.json); the tandem binary is $TANDEM_BIN, else the debug build in
# $CARGO_TARGET_DIR (build it first: cargo build -p api --bin tandem).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "installing chromium (Debian)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium >/dev/null
fi
command -v python3 >/dev/null || { echo "python3 is needed for the README's change-log script" >&2; exit 1; }

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
node --test --test-concurrency=1 graphiql.test.mjs readme.test.mjs
