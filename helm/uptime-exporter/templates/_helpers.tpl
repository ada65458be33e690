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
The helm test image.
*/}}
{{- define "uptime-exporter.testImage" -}}
{{- $repo := .Values.test.image.repository }}
{{- with .Values.test.image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}
{{- end }}
{{- printf "%s:%s" $repo (toString .Values.test.image.tag) }}
{{- end }}

{{/*
Where the config file is mounted in the container (the image documents the same path).
*/}}
{{- define "uptime-exporter.configDir" -}}
/etc/uptime-exporter
{{- end }}

{{/*
The config file's content: .Values.config as YAML, without empty sections.
*/}}
{{- define "uptime-exporter.configYaml" -}}
{{- $config := dict }}
{{- range $key, $value := .Values.config }}
{{- if or (kindIs "slice" $value) $value }}
{{- $_ := set $config $key $value }}
{{- end }}
{{- end }}
{{- toYaml $config }}
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
