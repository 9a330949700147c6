{{/* The chart name, or nameOverride. */}}
{{- define "pgwalstreams.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects (63 characters at most, the DNS label limit). */}}
{{- define "pgwalstreams.fullname" -}}
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

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "pgwalstreams.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "pgwalstreams.labels" -}}
helm.sh/chart: {{ include "pgwalstreams.chart" . }}
{{ include "pgwalstreams.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the pod. */}}
{{- define "pgwalstreams.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pgwalstreams.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pod runs as. */}}
{{- define "pgwalstreams.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pgwalstreams.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the database password: the existing one, or the chart's. */}}
{{- define "pgwalstreams.secretName" -}}
{{- default (printf "%s-db" (include "pgwalstreams.fullname" .)) .Values.password.existingSecret }}
{{- end }}

{{/* Where the password Secret is mounted in the container. */}}
{{- define "pgwalstreams.secretDir" -}}
/run/secrets/pgwalstreams
{{- end }}

{{/* Where the ConfigMap is mounted, as a directory. */}}
{{- define "pgwalstreams.configDir" -}}
/etc/pgwalstreams
{{- end }}
