#!/usr/bin/env bash
# Installs the OpenSSL command line tool: tests/check/hostile_sweep_test.ts
# runs `openssl s_server` as a TLS server that offers only TLS 1.0/1.1 (no
# Deno or node:tls server can). Debian's minimal images do not ship it.
#
# Idempotent. Sourced by install_tools.sh (so it uses tls_-prefixed names and
# sets no traps) and can also be run alone. A failure stops the run.
set -euo pipefail

if ! command -v openssl >/dev/null 2>&1; then
  echo "==> installing openssl with apt-get" >&2
  tls_sudo=""
  if [ "$(id -u)" -ne 0 ]; then tls_sudo="sudo"; fi
  $tls_sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $tls_sudo apt-get install -y --no-install-recommends openssl
fi
openssl version
