{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "dcs-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. The release name is used alone when it already
contains the chart name.
*/}}
{{- define "dcs-exporter.fullname" -}}
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

{{- define "dcs-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dcs-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/* Labels that select the exporter's pods. */}}
{{- define "dcs-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dcs-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "dcs-exporter.labels" -}}
helm.sh/chart: {{ include "dcs-exporter.chart" . }}
{{ include "dcs-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: metrics
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "dcs-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dcs-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dcs-exporter.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the API credentials, or "" when the chart manages
no credentials.
*/}}
{{- define "dcs-exporter.secretName" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else if .Values.credentials.accessKey }}
{{- include "dcs-exporter.fullname" . }}
{{- end }}
{{- end }}

{{/* "true" when a security_token file is mounted. */}}
{{- define "dcs-exporter.useSecurityToken" -}}
{{- if .Values.credentials.existingSecret }}
{{- if .Values.credentials.useSecurityToken }}true{{ end }}
{{- else if .Values.credentials.securityToken }}true
{{- end }}
{{- end }}

{{/* Fails if a credentials block of the config holds secrets inline. */}}
{{- define "dcs-exporter.checkNoInlineSecrets" -}}
{{- $where := index . 0 }}
{{- $creds := index . 1 }}
{{- if kindIs "map" $creds }}
{{- range $key := list "access_key" "secret_key" "security_token" }}
{{- if hasKey $creds $key }}
{{- fail (printf "%s.credentials.%s must not be set inline: it would be stored in a ConfigMap. Use credentials.accessKey/secretKey/securityToken or credentials.existingSecret (mounted as files), or *_file paths." $where $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The exporter configuration as a dict: .Values.config with the chart's
credential files set as defaults.credentials.
*/}}
{{- define "dcs-exporter.configYAML" -}}
{{- $cfg := deepCopy (default (dict) .Values.config) }}
{{- $defaults := get $cfg "defaults" | default (dict) }}
{{- include "dcs-exporter.checkNoInlineSecrets" (list "config.defaults" (get $defaults "credentials")) }}
{{- range $i, $t := (get $cfg "targets" | default (list)) }}
{{- if kindIs "map" $t }}
{{- include "dcs-exporter.checkNoInlineSecrets" (list (printf "config.targets[%d]" $i) (get $t "credentials")) }}
{{- end }}
{{- end }}
{{- if include "dcs-exporter.secretName" . }}
{{- $dir := trimSuffix "/" .Values.credentials.mountPath }}
{{- $creds := dict "access_key_file" (printf "%s/access_key" $dir) "secret_key_file" (printf "%s/secret_key" $dir) }}
{{- if include "dcs-exporter.useSecurityToken" . }}
{{- $_ := set $creds "security_token_file" (printf "%s/security_token" $dir) }}
{{- end }}
{{- $_ := set $defaults "credentials" $creds }}
{{- $_ := set $cfg "defaults" $defaults }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* Job name the DCSExporterAbsent alert looks for. */}}
{{- define "dcs-exporter.prometheusJob" -}}
{{- if .Values.prometheusRule.job }}
{{- .Values.prometheusRule.job }}
{{- else if .Values.serviceMonitor.enabled }}
{{- default (include "dcs-exporter.fullname" .) .Values.serviceMonitor.jobName }}
{{- else }}
{{- print "dcs" }}
{{- end }}
{{- end }}
