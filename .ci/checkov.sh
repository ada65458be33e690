#!/usr/bin/env bash
# checkov (pinned, from PyPI) over the rendered Helm chart — default values and
# every values file in helm/uptime-exporter/ci/ — and over the Dockerfile.
# Fails on any failed check; skips must be justified in the chart or Dockerfile
# (checkov skip annotations / comments with a reason).
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOV_VERSION=3.3.30

if ! command -v checkov >/dev/null 2>&1 || [ "$(checkov --version 2>/dev/null | tail -1)" != "$CHECKOV_VERSION" ]; then
  python3 -m pip install --quiet "checkov==${CHECKOV_VERSION}"
fi
# .ci/chart_tools.sh installs helm in "$(go env GOPATH)/bin", which need not be on PATH.
if ! command -v helm >/dev/null 2>&1 && command -v go >/dev/null 2>&1; then
  PATH="$PATH:$(go env GOPATH)/bin"
fi
command -v helm >/dev/null 2>&1 || { echo "checkov.sh: helm is required (.ci/chart_tools.sh)" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
helm template uptime-exporter helm/uptime-exporter --namespace monitoring >"$out/default.yaml"
for values in helm/uptime-exporter/ci/*-values.yaml; do
  helm template uptime-exporter helm/uptime-exporter --namespace monitoring -f "$values" >"$out/$(basename "$values" .yaml).yaml"
done

# --skip-download: no call to the Prisma Cloud API (check guidelines and ID
# mappings), which the offline CI cannot reach and the results do not need.
# --quiet prints failed checks only; the summary line still counts the skips.
status=0
checkov --quiet --compact --skip-download --framework kubernetes -d "$out" || status=1
checkov --quiet --compact --skip-download --framework dockerfile -f Dockerfile || status=1
exit "$status"
