#!/usr/bin/env bash
# Downloads the pinned GraphiQL, React and React DOM packages again from the npm registry
# (`npm ci`: every tarball checked against the integrity hash in package-lock.json), and compares
# the files the tandem binary embeds with them and with SHA256SUMS.
#
#   ./refetch.sh           check: the committed files are the registry's, byte for byte
#   ./refetch.sh --update  copy the registry's files here and rewrite SHA256SUMS (after changing
#                          a version in package.json and running `npm install --package-lock-only`)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

# The embedded file, and where it is in the installed packages.
files=(
  "react.production.min.js:react/umd/react.production.min.js"
  "react-dom.production.min.js:react-dom/umd/react-dom.production.min.js"
  "graphiql.min.js:graphiql/graphiql.min.js"
  "graphiql.min.css:graphiql/graphiql.min.css"
  "LICENSE.react:react/LICENSE"
  "LICENSE.react-dom:react-dom/LICENSE"
  "LICENSE.graphiql:graphiql/LICENSE"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

if [ "${1:-}" = "--update" ]; then
  : > SHA256SUMS
  for pair in "${files[@]}"; do
    cp "$work/node_modules/${pair#*:}" "${pair%%:*}"
    sha256sum "${pair%%:*}" >> SHA256SUMS
  done
  echo "updated; SHA256SUMS rewritten"
  exit 0
fi

status=0
for pair in "${files[@]}"; do
  if ! cmp -s "$work/node_modules/${pair#*:}" "${pair%%:*}"; then
    echo "${pair%%:*} differs from the registry's ${pair#*:}" >&2
    status=1
  fi
done
sha256sum --quiet -c SHA256SUMS || status=1
[ "$status" -eq 0 ] && echo "the embedded files are the registry's (package-lock.json) and match SHA256SUMS"
exit "$status"
