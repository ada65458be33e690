#!/usr/bin/env bash
# Installs what the end-to-end suite (`deno task test:e2e`, tests/e2e/) needs on
# a Debian machine: a real Prometheus server and promtool (Debian package
# "prometheus", 2.42 on Debian 12), Prometheus 3 (built from the Go module
# proxy: Debian has none) and headless Chromium (Debian package "chromium").
# No npm package is needed: the suite drives Chromium over the DevTools
# protocol itself. helm, which renders the chart's alert rules, comes from
# chart_tools.sh.
#
# Idempotent: installs only what is missing. Sourced by install_tools.sh (so
# it uses e2e_-prefixed names and sets no traps) and can also be run alone.
# Any failure stops with a non-zero exit: a missing tool never means a skip.
set -euo pipefail

e2e_log() { printf '==> %s\n' "$*" >&2; }
e2e_fail() {
  printf 'e2e_tools.sh: %s\n' "$*" >&2
  exit 1
}

e2e_packages=()
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || e2e_packages+=(prometheus)
[ -x /usr/bin/chromium ] || e2e_packages+=(chromium)

if [ "${#e2e_packages[@]}" -gt 0 ]; then
  e2e_log "installing ${e2e_packages[*]} with apt-get"
  e2e_sudo=""
  if [ "$(id -u)" -ne 0 ]; then e2e_sudo="sudo"; fi
  $e2e_sudo apt-get update || e2e_fail "apt-get update failed"
  # Keep the prometheus package's init script from starting a server on :9090
  # (the suite starts its own on a free loopback port).
  e2e_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    e2e_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $e2e_sudo tee "$e2e_policy" >/dev/null
    $e2e_sudo chmod 755 "$e2e_policy"
  fi
  e2e_status=0
  DEBIAN_FRONTEND=noninteractive $e2e_sudo apt-get install -y --no-install-recommends \
    "${e2e_packages[@]}" || e2e_status=$?
  if [ -n "$e2e_policy" ]; then $e2e_sudo rm -f "$e2e_policy"; fi
  [ "$e2e_status" -eq 0 ] || e2e_fail "apt-get install ${e2e_packages[*]} failed ($e2e_status)"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $e2e_sudo systemctl disable --now prometheus || true
  fi
fi

# --- Prometheus 3 -----------------------------------------------------------
# Built with go install like helm, into "$(go env GOPATH)/bin" (the tests look
# there), and left alone when the binary there is already this module version
# (`go version -m`: a plain go install stamps no --version). v0.316.0 is the Go
# module version of Prometheus v3.16.0; the first build takes 10-15 minutes.
E2E_PROMETHEUS3_VERSION=3.16.0
E2E_PROMETHEUS3_MODULE=v0.316.0
command -v go >/dev/null 2>&1 || e2e_fail "go is needed to build Prometheus 3"
e2e_gobin="$(go env GOBIN)"
if [ -z "$e2e_gobin" ]; then e2e_gobin="$(go env GOPATH)/bin"; fi
e2e_prometheus3="$e2e_gobin/prometheus"
e2e_prometheus3_module() {
  go version -m "$e2e_prometheus3" 2>/dev/null |
    awk '$1 == "mod" && $2 == "github.com/prometheus/prometheus" { print $3 }'
}
if [ -x "$e2e_prometheus3" ] && [ "$(e2e_prometheus3_module)" = "$E2E_PROMETHEUS3_MODULE" ]; then
  e2e_log "Prometheus 3 present: $e2e_prometheus3 (module $E2E_PROMETHEUS3_MODULE)"
else
  e2e_log "building Prometheus $E2E_PROMETHEUS3_VERSION with go install (10-15 minutes the first time)"
  e2e_ldflags="-s -w -X github.com/prometheus/common/version.Version=$E2E_PROMETHEUS3_VERSION"
  e2e_ldflags+=" -X github.com/prometheus/common/version.Revision=$E2E_PROMETHEUS3_MODULE"
  e2e_ldflags+=" -X github.com/prometheus/common/version.Branch=HEAD"
  GOBIN="$e2e_gobin" CGO_ENABLED=0 go install -trimpath -ldflags "$e2e_ldflags" \
    "github.com/prometheus/prometheus/cmd/prometheus@$E2E_PROMETHEUS3_MODULE" ||
    e2e_fail "go install of Prometheus $E2E_PROMETHEUS3_VERSION failed"
  [ "$(e2e_prometheus3_module)" = "$E2E_PROMETHEUS3_MODULE" ] ||
    e2e_fail "$e2e_prometheus3 is not module $E2E_PROMETHEUS3_MODULE after the build"
fi
"$e2e_prometheus3" --version 2>&1 | head -n1 | grep -q '^prometheus, version' ||
  e2e_fail "$e2e_prometheus3 does not run"
e2e_log "Prometheus 3: $("$e2e_prometheus3" --version 2>&1 | head -n1) (module $(e2e_prometheus3_module))"

# Check that each tool runs, not only that a file is there.
/usr/bin/prometheus --version 2>&1 | head -n1 | grep -q '^prometheus, version' ||
  e2e_fail "/usr/bin/prometheus does not run"
e2e_log "$(/usr/bin/prometheus --version 2>&1 | head -n1)"
/usr/bin/promtool --version >/dev/null 2>&1 || e2e_fail "/usr/bin/promtool does not run"
# The Debian wrapper script may print a shell warning first; keep the version line.
e2e_chromium_version="$(/usr/bin/chromium --version 2>/dev/null | grep -m1 '^Chromium ' || true)"
[ -n "$e2e_chromium_version" ] || e2e_fail "/usr/bin/chromium --version printed no version"
e2e_log "$e2e_chromium_version"
# A headless start proves the shared libraries and the headless mode work here.
e2e_profile="$(mktemp -d)"
e2e_dom="$(timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu \
  --disable-background-networking --disable-component-update --no-first-run \
  --user-data-dir="$e2e_profile" --dump-dom 'data:text/html,<p id=ok>e2e</p>' 2>/dev/null || true)"
rm -rf "$e2e_profile"
case "$e2e_dom" in
  *'<p id="ok">e2e</p>'*) e2e_log "headless chromium works" ;;
  *) e2e_fail "headless chromium could not render a page" ;;
esac
