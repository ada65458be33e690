{{/*
Expand the name of the chart.
*/}}
{{- define "uptime-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "uptime-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "uptime-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "uptime-exporter.labels" -}}
helm.sh/chart: {{ include "uptime-exporter.chart" . }}
{{ include "uptime-exporter.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: uptime-exporter
{{- end }}

{{/*
Selector labels
*/}}
{{- define "uptime-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "uptime-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "uptime-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "uptime-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The exporter image: [registry/]repository[:tag][@digest]; the tag defaults to appVersion.
*/}}
{{- define "uptime-exporter.image" -}}
{{- $repo := .Values.image.repository }}
{{- with .Values.image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}
{{- end }}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" $repo $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{/*
The helm test image: [registry/]repository:tag[@digest].
*/}}
{{- define "uptime-exporter.testImage" -}}
{{- $repo := .Values.test.image.repository }}
{{- with .Values.test.image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}
{{- end }}
{{- printf "%s:%s" $repo (toString .Values.test.image.tag) }}
{{- with .Values.test.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
Where the config file is mounted in the container (the image documents the same path).
*/}}
{{- define "uptime-exporter.configDir" -}}
/etc/uptime-exporter
{{- end }}

{{/*
The config file's content: .Values.config as YAML, without empty sections and
without the chart's own keys (existingConfigMap, existingSecret).
*/}}
{{- define "uptime-exporter.configYaml" -}}
{{- $config := dict }}
{{- range $key, $value := omit .Values.config "existingConfigMap" "existingSecret" }}
{{- if or (kindIs "slice" $value) $value }}
{{- $_ := set $config $key $value }}
{{- end }}
{{- end }}
{{- include "uptime-exporter.probeConfig" (dict "config" $config "Values" .Values) }}
{{- toYaml $config }}
{{- end }}

{{/*
The object the config file comes from: "" when the chart renders it (its own
ConfigMap), else the user's existingConfigMap or existingSecret. Fails when both are set.
*/}}
{{- define "uptime-exporter.existingConfig" -}}
{{- $config := .Values.config | default dict }}
{{- if and $config.existingConfigMap $config.existingSecret }}
{{- fail "config.existingConfigMap and config.existingSecret: set at most one" }}
{{- end }}
{{- $config.existingConfigMap | default $config.existingSecret | default "" }}
{{- end }}

{{/*
The route prefix the exporter serves under, as paths are written: "" for /,
else "/a/b" (no trailing slash). routePrefix wins; without it the path of
externalUrl, as the exporter itself does.
*/}}
{{- define "uptime-exporter.routePrefix" -}}
{{- $prefix := .Values.routePrefix | default "" }}
{{- if and (not $prefix) .Values.externalUrl }}
{{- $prefix = (urlParse .Values.externalUrl).path }}
{{- end }}
{{- $prefix = regexReplaceAll "/+$" $prefix "" }}
{{- if and $prefix (not (hasPrefix "/" $prefix)) }}
{{- $prefix = printf "/%s" $prefix }}
{{- end }}
{{- $prefix }}
{{- end }}

{{/*
The probe values (/probe, blackbox_exporter style) as the config file's probe: section.
*/}}
{{- define "uptime-exporter.probeConfig" -}}
{{- $probe := .Values.probe | default dict }}
{{- if $probe.enabled }}
{{- if not $probe.allowedTargets }}
{{- fail "probe.allowedTargets: list at least one entry when probe.enabled is true (every target would be refused)" }}
{{- end }}
{{- if hasKey .config "probe" }}
{{- fail "set /probe either with probe.* or with config.probe, not both" }}
{{- end }}
{{- $_ := set .config "probe" (dict "enabled" true "allowed_targets" $probe.allowedTargets "modules" ($probe.modules | default dict)) }}
{{- end }}
{{- end }}

{{/*
The prefix of the per-URL metrics, as the exporter will use it.
*/}}
{{- define "uptime-exporter.metricPrefix" -}}
{{- $global := .Values.config.global | default dict }}
{{- $global.metric_prefix | default "sample_external_url" }}
{{- end }}

{{/*
PromQL label matchers selecting this exporter's series (without braces).
*/}}
{{- define "uptime-exporter.promSelector" -}}
{{- if .Values.prometheusRule.selector }}
{{- .Values.prometheusRule.selector }}
{{- else }}
{{- printf "job=%q,namespace=%q" (include "uptime-exporter.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
checkov skip annotations (checkov.io/skipN: CHECK=reason) for the deviations the
chart makes on purpose, so that checkov over the rendered chart passes with each
deviation justified where it applies. A skip is rendered only while its deviation
is there: set a CPU limit, an image digest or pullPolicy Always and the skip goes.
checkov splits the value at "=": a reason must not contain one.
Argument: the list of "CHECK=reason" strings.
*/}}
{{- define "uptime-exporter.checkovSkips" -}}
{{- range $i, $skip := . }}
checkov.io/skip{{ add1 $i }}: {{ $skip | quote }}
{{- end }}
{{- end }}

{{/*
The checkov skips of the exporter's Deployment.
*/}}
{{- define "uptime-exporter.deploymentCheckovSkips" -}}
{{- $skips := list }}
{{- if not (dig "limits" "cpu" "" (.Values.resources | default dict)) }}
{{- $skips = append $skips "CKV_K8S_11=No CPU limit on purpose: CFS throttling would stall checks mid-request and inflate the response times the exporter measures. Set resources.limits.cpu to add one." }}
{{- end }}
{{- if not .Values.image.digest }}
{{- if ne .Values.image.pullPolicy "Always" }}
{{- $skips = append $skips "CKV_K8S_15=The image is referenced by an immutable release tag, so IfNotPresent runs the same image without a registry pull on every start. Set image.digest or image.pullPolicy Always." }}
{{- end }}
{{- $skips = append $skips "CKV_K8S_43=The image is pinned by its release tag (the chart's appVersion by default). Set image.digest to pin it by digest." }}
{{- end }}
{{- $secretEnv := false }}
{{- range .Values.extraEnv }}
{{- if and (kindIs "map" .) (kindIs "map" .valueFrom) }}
{{- if hasKey .valueFrom "secretKeyRef" }}{{ $secretEnv = true }}{{ end }}
{{- end }}
{{- end }}
{{- range .Values.envFrom }}
{{- if and (kindIs "map" .) (hasKey . "secretRef") }}{{ $secretEnv = true }}{{ end }}
{{- end }}
{{- if $secretEnv }}
{{- $skips = append $skips "CKV_K8S_35=The config's ${VAR} placeholders (headers, body, basic_auth) are filled from the environment by design: the exporter reads target secrets from nowhere else." }}
{{- end }}
{{- include "uptime-exporter.checkovSkips" $skips | trim }}
{{- end }}

{{/*
The checkov skips of the helm test Pod.
*/}}
{{- define "uptime-exporter.testCheckovSkips" -}}
{{- $skips := list
  "CKV_K8S_8=One-shot helm test hook: it fetches /metrics for at most a minute and exits, there is no long-running process to probe."
  "CKV_K8S_9=One-shot helm test hook: no Service routes to it, there is nothing to be ready for." }}
{{- if not .Values.test.image.digest }}
{{- if ne .Values.test.image.pullPolicy "Always" }}
{{- $skips = append $skips "CKV_K8S_15=The test image is an immutable release tag, so IfNotPresent runs the same image without a (rate-limited) registry pull on every helm test. Set test.image.digest or test.image.pullPolicy Always." }}
{{- end }}
{{- $skips = append $skips "CKV_K8S_43=The test image is pinned by its release tag. Set test.image.digest to pin it by digest." }}
{{- end }}
{{- include "uptime-exporter.checkovSkips" $skips | trim }}
{{- end }}

{{/*
A PromQL expression across the pods of a sharded fleet: `fn without
(instance, pod) (expr)`, the target's own labels kept, when the third
argument is true; the expression itself otherwise.
Argument: (list fn expr sharded).
*/}}
{{- define "uptime-exporter.acrossPods" -}}
{{- if index . 2 }}
{{- printf "%s without (instance, pod) (%s)" (index . 0) (index . 1) }}
{{- else }}
{{- index . 1 }}
{{- end }}
{{- end }}

{{/*
The Grafana dashboard (dashboards/uptime-exporter.json). Sharded, a URL's
series come from each pod that checks it: the counts of URLs up and down
take the best of its pods (max without (instance, pod)), the target count
is the configured one, and the panels of dashboards/replicas.json are added
(coverage, each pod's share, the fleet each pod sees, each pod's view).
*/}}
{{- define "uptime-exporter.dashboardJson" -}}
{{- $json := .Files.Get "dashboards/uptime-exporter.json" }}
{{- if .Values.sharding.enabled }}
{{- range $state := list "1" "0" }}
{{- $json = replace (printf `count(sample_external_url_up{job=~\"$job\", url=~\"$url\"} == %s)` $state) (printf `count(max without (instance, pod) (sample_external_url_up{job=~\"$job\", url=~\"$url\"}) == %s)` $state) $json }}
{{- end }}
{{- $json = replace `sum(uptime_exporter_targets{job=~\"$job\"})` `max(uptime_exporter_targets_configured{job=~\"$job\"})` $json }}
{{- $dashboard := fromJson $json }}
{{- $replicas := .Files.Get "dashboards/replicas.json" | fromJson }}
{{- $_ := set $dashboard "panels" (concat $dashboard.panels $replicas.panels) }}
{{- $json = toPrettyJson $dashboard }}
{{- end }}
{{- $json }}
{{- end }}
