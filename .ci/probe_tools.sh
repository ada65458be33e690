#!/usr/bin/env bash
# Installs what the /probe tests need beyond the other suites' tools: a real DNS
# server (dnsmasq, Debian package dnsmasq-base: the binary only, no service to
# start) that tests/_helpers/dns_server.ts runs on a loopback port, and the
# reference blackbox_exporter for the side-by-side test (also bench_tools.sh's).
# Idempotent; sourced by install_tools.sh (probe_-prefixed names, no traps).
# Any failure stops the run: a missing tool never means a skipped test.
set -euo pipefail

probe_packages=()
[ -x /usr/sbin/dnsmasq ] || probe_packages+=(dnsmasq-base)
[ -x /usr/bin/prometheus-blackbox-exporter ] || probe_packages+=(prometheus-blackbox-exporter)
if [ "${#probe_packages[@]}" -gt 0 ]; then
  echo "==> installing ${probe_packages[*]} with apt-get" >&2
  probe_sudo=""
  if [ "$(id -u)" -ne 0 ]; then probe_sudo="sudo"; fi
  $probe_sudo apt-get update
  # Keep a package's init script from starting a server (blackbox on :9115).
  probe_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    probe_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $probe_sudo tee "$probe_policy" >/dev/null
    $probe_sudo chmod 755 "$probe_policy"
  fi
  probe_status=0
  DEBIAN_FRONTEND=noninteractive $probe_sudo apt-get install -y --no-install-recommends \
    "${probe_packages[@]}" || probe_status=$?
  if [ -n "$probe_policy" ]; then $probe_sudo rm -f "$probe_policy"; fi
  [ "$probe_status" -eq 0 ] || { echo "probe_tools.sh: apt-get install failed" >&2; exit 1; }
fi
# sed, not head: it reads all the output, so no SIGPIPE fails the pipe under pipefail.
/usr/sbin/dnsmasq --version | sed -n 1p
/usr/bin/prometheus-blackbox-exporter --version 2>&1 | sed -n 1p
