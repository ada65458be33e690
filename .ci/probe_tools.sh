#!/usr/bin/env bash
# Installs the real DNS server the /probe and sharding tests need (the DNS
# membership tests serve the peers' records from it): dnsmasq, from Debian's
# dnsmasq-base (the binary alone: no service is installed or started), which
# tests/_helpers/dns_server.ts runs on a loopback port. The side-by-side test's
# blackbox_exporter comes from bench_tools.sh. Idempotent; sourced by
# install_tools.sh (probe_-prefixed names, no traps). A failure stops the run:
# a missing tool never means a skipped test.
set -euo pipefail

if [ ! -x /usr/sbin/dnsmasq ]; then
  echo "==> installing dnsmasq-base with apt-get" >&2
  probe_sudo=""
  if [ "$(id -u)" -ne 0 ]; then probe_sudo="sudo"; fi
  $probe_sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $probe_sudo apt-get install -y --no-install-recommends dnsmasq-base
fi
# sed, not head: it reads all the output, so no SIGPIPE fails the pipe under pipefail.
/usr/sbin/dnsmasq --version | sed -n 1p
