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
{{- printf "%s:%s" $repo (.Values.image.tag | default (printf "v%s" .Chart.AppVersion) | toString) }}
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
Fails if a target of the config would have no credentials, which makes the
exporter exit at start: (list root config). With the chart's credentials
(credentials.existingSecret or accessKey) or in demo mode every target has
what it needs.
*/}}
{{- define "dcs-exporter.checkCredentials" -}}
{{- $root := index . 0 }}
{{- $cfg := index . 1 }}
{{- if not (or $root.Values.demo (include "dcs-exporter.secretName" $root)) }}
{{- $defaults := get $cfg "defaults" | default (dict) }}
{{- range $i, $t := (get $cfg "targets" | default (list)) }}
{{- if and (kindIs "map" $t) (not (or (get $defaults "credentials") (get $t "credentials"))) }}
{{- fail (printf "config.targets[%d] (%v) has no credentials. Set credentials.existingSecret to a Secret with the keys access_key and secret_key (or credentials.accessKey and credentials.secretKey), or config.defaults.credentials or config.targets[%d].credentials (for example {metadata: true} on CCE with an agency). To try the chart without a cloud account, set demo=true." $i (get $t "name" | default "unnamed") $i) }}
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
{{- include "dcs-exporter.checkCredentials" (list . $cfg) }}
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

{{/*
Label matchers that pick this release's exporter in DCSExporterAbsent:
prometheusRule.exporterSelector, else the namespace and Service labels the
prometheus-operator gives the ServiceMonitor's series, else none.
*/}}
{{- define "dcs-exporter.exporterSelector" -}}
{{- if .Values.prometheusRule.exporterSelector }}
{{- .Values.prometheusRule.exporterSelector }}
{{- else if .Values.serviceMonitor.enabled }}
{{- printf "namespace=%q, service=%q" (include "dcs-exporter.namespace" .) (include "dcs-exporter.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Labels for the ServiceMonitor and PrometheusRule: (list root extraLabels).
The chart's labels, `release: <releaseLabel>`, then the extra labels, which
win where keys repeat.
*/}}
{{- define "dcs-exporter.monitoringLabels" -}}
{{- $root := index . 0 }}
{{- $labels := include "dcs-exporter.labels" $root | fromYaml }}
{{- with $root.Values.releaseLabel }}
{{- $_ := set $labels "release" (toString .) }}
{{- end }}
{{- toYaml (merge (deepCopy (index . 1 | default dict)) $labels) }}
{{- end }}

{{/* "true" when webConfig makes the exporter serve TLS. */}}
{{- define "dcs-exporter.webTLS" -}}
{{- $tls := get (.Values.webConfig | default dict) "tls_server_config" | default dict }}
{{- if or (get $tls "cert_file") (get $tls "cert") }}true{{ end }}
{{- end }}

{{/* "HTTPS" when webConfig serves TLS, "HTTP" otherwise. */}}
{{- define "dcs-exporter.webScheme" -}}
{{- if include "dcs-exporter.webTLS" . }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/*
"tcp" or "http": how the kubelet probes the exporter. In auto mode TCP when
webConfig wants credentials the kubelet cannot send: basic auth, or a client
certificate (exporter-toolkit's client_auth_type values that require one).
*/}}
{{- define "dcs-exporter.probeMode" -}}
{{- $mode := .Values.probes.mode | default "auto" }}
{{- $wc := .Values.webConfig | default dict }}
{{- $clientAuth := get (get $wc "tls_server_config" | default dict) "client_auth_type" | default "" }}
{{- if eq $mode "auto" }}
{{- if or (get $wc "basic_auth_users") (has $clientAuth (list "RequireAnyClientCert" "RequireAndVerifyClientCert")) }}tcp{{ else }}http{{ end }}
{{- else if has $mode (list "http" "tcp") }}
{{- $mode }}
{{- else }}
{{- fail (printf "probes.mode is %q; it must be auto, http or tcp" $mode) }}
{{- end }}
{{- end }}

{{/* A probe: (list root probeValues path). */}}
{{- define "dcs-exporter.probe" -}}
{{- $root := index . 0 }}
{{- $probe := deepCopy (index . 1 | default dict) }}
{{- if not (or $probe.httpGet $probe.tcpSocket $probe.exec $probe.grpc) }}
{{- if eq (include "dcs-exporter.probeMode" $root) "tcp" }}
{{- $_ := set $probe "tcpSocket" (dict "port" "http") }}
{{- else }}
{{- $_ := set $probe "httpGet" (dict "path" (index . 2) "port" "http" "scheme" (include "dcs-exporter.webScheme" $root)) }}
{{- end }}
{{- end }}
{{- toYaml $probe }}
{{- end }}
