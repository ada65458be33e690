#!/usr/bin/env bash
# Installs what the test suites need; idempotent (skips what is present at the
# right version). Sourced by .ci/run so PATH changes carry over.
set -euo pipefail
DENO_VERSION=2.9.6

if ! command -v deno >/dev/null 2>&1 || [ "$(deno --version | awk 'NR==1{print $2}')" != "$DENO_VERSION" ]; then
  npm install -g "deno@${DENO_VERSION}"
fi
deno --version | head -1

# Each suite's own tool script (chart: helm, kubernetes-validate, hadolint,
# promtool; e2e: prometheus, chromium; ...). Any failure stops the run.
for script in .ci/*_tools.sh; do
  [ -e "$script" ] || continue
  [ "$script" = .ci/install_tools.sh ] && continue # this file: no recursion
  echo "== $script"
  source "$script"
done

# Unit tests parse the exposition with promtool.
if ! command -v promtool >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi
promtool --version | head -1
