{{/*
The exporter's pod template, shared by the Deployment (one replica, or
several that each check every target) and the StatefulSet (sharding.enabled:
replicas that share the targets). Argument: the root context.
*/}}
{{- define "uptime-exporter.podTemplate" -}}
metadata:
  {{- $annotations := dict }}
  {{- $prefix := include "uptime-exporter.routePrefix" . }}
  {{- $existing := include "uptime-exporter.existingConfig" . }}
  {{- /* The chart cannot see an existing object's content: no checksum of it. */}}
  {{- if and .Values.configChecksumAnnotation (not $existing) }}
  {{- $_ := set $annotations "checksum/config" (include "uptime-exporter.configYaml" . | sha256sum) }}
  {{- end }}
  {{- if .Values.scrapeAnnotations.enabled }}
  {{- $_ := set $annotations "prometheus.io/scrape" "true" }}
  {{- $_ := set $annotations "prometheus.io/port" (toString .Values.containerPort) }}
  {{- $_ := set $annotations "prometheus.io/path" (printf "%s/metrics" $prefix) }}
  {{- end }}
  {{- $annotations = merge $annotations (.Values.podAnnotations | default dict) }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  labels:
    {{- include "uptime-exporter.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  serviceAccountName: {{ include "uptime-exporter.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automount }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: uptime-exporter
      image: {{ include "uptime-exporter.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file={{ include "uptime-exporter.configDir" . }}/config.yaml
        - --web.listen-address=:{{ .Values.containerPort }}
        - --log.level={{ .Values.logLevel }}
        - --log.format={{ .Values.logFormat }}
        {{- with .Values.routePrefix }}
        - --web.route-prefix={{ . }}
        {{- end }}
        {{- with .Values.externalUrl }}
        - --web.external-url={{ . }}
        {{- end }}
        {{- if .Values.webConfig.secretName }}
        - --web.config.file=/etc/uptime-exporter-web/web-config.yml
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- if .Values.sharding.enabled }}
      env:
        {{- include "uptime-exporter.shardEnv" . | nindent 8 }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- else }}
      {{- with .Values.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.containerPort }}
          protocol: TCP
      {{- range $name := list "livenessProbe" "readinessProbe" }}
      {{- with index $.Values $name }}
      {{- $probe := deepCopy . }}
      {{- if and $.Values.webConfig.tls $probe.httpGet }}
      {{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
      {{- end }}
      {{- if and $prefix $probe.httpGet }}
      {{- $_ := set $probe.httpGet "path" (printf "%s%s" $prefix $probe.httpGet.path) }}
      {{- end }}
      {{ $name }}:
        {{- toYaml $probe | nindent 8 }}
      {{- end }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        # A directory mount (not subPath), so the kubelet's updates of the
        # ConfigMap reach the running exporter, which then reloads.
        - name: config
          mountPath: {{ include "uptime-exporter.configDir" . }}
          readOnly: true
        # The root filesystem is read-only; the compiled binary may keep a
        # code cache in the temp directory.
        - name: tmp
          mountPath: /tmp
        {{- if .Values.webConfig.secretName }}
        - name: web-config
          mountPath: /etc/uptime-exporter-web
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      {{- if .Values.config.existingSecret }}
      secret:
        secretName: {{ .Values.config.existingSecret }}
        # Owner-and-group readable; the pod's fsGroup (65532) is the group.
        defaultMode: 0440
      {{- else }}
      configMap:
        name: {{ $existing | default (include "uptime-exporter.fullname" .) }}
      {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with .Values.webConfig.secretName }}
    - name: web-config
      secret:
        secretName: {{ . }}
        # Owner-and-group readable; the pod's fsGroup (65532) is the group.
        defaultMode: 0440
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity | default (include "uptime-exporter.shardAntiAffinity" . | fromYaml) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range .Values.topologySpreadConstraints }}
    {{- $constraint := deepCopy . }}
    {{- if not $constraint.labelSelector }}
    {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "uptime-exporter.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    - {{- toYaml $constraint | nindent 6 }}
    {{- end }}
  {{- end }}
{{- end }}

{{/*
The environment of a sharded pod (docs/kubernetes.md, "Sharding"): its name
and IP from the downward API (the exporter takes its shard index from the
ordinal ending POD_NAME, and its identity among the headless Service's
records from POD_IP), and the fleet: replicaCount pods (static), or the
ready pods the headless Service lists (dns).
*/}}
{{- define "uptime-exporter.shardEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: UPTIME_EXPORTER_SHARD_REPLICATION
  value: {{ .Values.sharding.replication | quote }}
{{- if eq .Values.sharding.membership "dns" }}
- name: UPTIME_EXPORTER_SHARD_PEERS_DNS
  value: {{ printf "%s.%s.svc.%s." (include "uptime-exporter.headlessName" .) .Release.Namespace (trimSuffix "." .Values.sharding.clusterDomain) | quote }}
- name: UPTIME_EXPORTER_SHARD_PEERS_DNS_INTERVAL
  value: {{ .Values.sharding.dnsInterval | quote }}
{{- else }}
- name: UPTIME_EXPORTER_SHARD_COUNT
  value: {{ .Values.replicaCount | quote }}
{{- end }}
{{- end }}

{{/*
The pods' default affinity when sharded and affinity is empty: spread over
nodes (sharding.podAntiAffinity), so that one node's failure takes at most
one replica of a target. Renders nothing otherwise.
*/}}
{{- define "uptime-exporter.shardAntiAffinity" -}}
{{- $mode := .Values.sharding.podAntiAffinity }}
{{- if and .Values.sharding.enabled (ne $mode "none") }}
{{- $term := dict "labelSelector" (dict "matchLabels" (include "uptime-exporter.selectorLabels" . | fromYaml)) "topologyKey" "kubernetes.io/hostname" }}
podAntiAffinity:
{{- if eq $mode "required" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    - {{- toYaml $term | nindent 6 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the headless Service of a sharded fleet (the StatefulSet's
serviceName, and the name its pods look up with membership dns).
*/}}
{{- define "uptime-exporter.headlessName" -}}
{{- printf "%s-headless" (include "uptime-exporter.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}
