{{/* Chart name, truncated to the 63 characters DNS names allow. */}}
{{- define "wfb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already holds the chart name. */}}
{{- define "wfb.fullname" -}}
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

{{- define "wfb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wfb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wfb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wfb.labels" -}}
helm.sh/chart: {{ include "wfb.chart" . }}
{{ include "wfb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: scim-bridge
{{- end }}

{{- define "wfb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wfb.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the tokens (by reference only). */}}
{{- define "wfb.secretName" -}}
{{- default (include "wfb.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "wfb.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The redis.url written into the config. A URL from a Secret becomes the
${REDIS_URL} placeholder, expanded by the bridge from the environment.
The bridge accepts redis://, rediss://, redis+cluster:// (rediss+cluster://)
and redis+sentinel:// (rediss+sentinel://).
*/}}
{{- define "wfb.redisURL" -}}
{{- $r := .Values.redis }}
{{- if $r.existingSecret.name }}
{{- print "${REDIS_URL}" }}
{{- else if eq $r.mode "standalone" }}
{{- required "redis.url is required when redis.mode is standalone" $r.url }}
{{- else if eq $r.mode "cluster" }}
{{- if not $r.cluster.nodes }}{{ fail "redis.cluster.nodes needs at least one host:port when redis.mode is cluster" }}{{ end }}
{{- printf "%s://%s" (ternary "rediss+cluster" "redis+cluster" (default false $r.cluster.tls)) (join "," $r.cluster.nodes) }}
{{- else if eq $r.mode "sentinel" }}
{{- if not $r.sentinel.nodes }}{{ fail "redis.sentinel.nodes needs at least one Sentinel host:port when redis.mode is sentinel" }}{{ end }}
{{- $name := required "redis.sentinel.masterName (the master set the Sentinels monitor) is required when redis.mode is sentinel" $r.sentinel.masterName }}
{{- printf "%s://%s/%s?db=%d" (ternary "rediss+sentinel" "redis+sentinel" (default false $r.sentinel.tls)) (join "," $r.sentinel.nodes) $name (int (default 0 $r.sentinel.db)) }}
{{- else }}
{{- fail (printf "redis.mode %q must be standalone, cluster or sentinel" $r.mode) }}
{{- end }}
{{- end }}

{{/*
The effective bridge config: .Values.config plus listen and redis from the
chart. Written as JSON (which is YAML): the bridge substitutes ${VAR} in the
text before parsing, and inside double quotes a token holding "#", ": " or
a leading "*" cannot change the document's structure.
*/}}
{{- define "wfb.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $redis := dict "url" (include "wfb.redisURL" .) "keyPrefix" .Values.redis.keyPrefix }}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.containerPort)) }}
{{- if .Values.adminPort }}
{{- $_ := set $cfg "admin" (dict "listen" (printf "0.0.0.0:%d" (int .Values.adminPort))) }}
{{- end }}
{{- $_ := set $cfg "redis" $redis }}
{{- toPrettyJson $cfg }}
{{- end }}
