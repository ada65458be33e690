#!/usr/bin/env bash
# Installs what `deno task bench` (and its --smoke run in the test task) needs:
# the reference exporter (Debian package prometheus-blackbox-exporter) and Go,
# which builds bench/target_server.go. Idempotent; sourced by install_tools.sh
# (bench_-prefixed names, no traps). Any failure stops the run.
set -euo pipefail

if [ ! -x /usr/bin/prometheus-blackbox-exporter ]; then
  echo "==> installing prometheus-blackbox-exporter with apt-get" >&2
  bench_sudo=""
  if [ "$(id -u)" -ne 0 ]; then bench_sudo="sudo"; fi
  $bench_sudo apt-get update
  # Keep the package's init script from starting a server on :9115: the
  # benchmark starts its own on a free loopback port.
  bench_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    bench_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $bench_sudo tee "$bench_policy" >/dev/null
    $bench_sudo chmod 755 "$bench_policy"
  fi
  bench_status=0
  DEBIAN_FRONTEND=noninteractive $bench_sudo apt-get install -y --no-install-recommends \
    prometheus-blackbox-exporter || bench_status=$?
  if [ -n "$bench_policy" ]; then $bench_sudo rm -f "$bench_policy"; fi
  [ "$bench_status" -eq 0 ] || { echo "bench_tools.sh: apt-get install failed" >&2; exit 1; }
fi
/usr/bin/prometheus-blackbox-exporter --version 2>&1 | head -n1
command -v go >/dev/null 2>&1 || { echo "bench_tools.sh: go is required (bench/target_server.go)" >&2; exit 1; }
go version
