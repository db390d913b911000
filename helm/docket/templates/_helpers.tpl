{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "docket.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified prefix of every object's name. */}}
{{- define "docket.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "docket.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "docket.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "origin"). */}}
{{- define "docket.selectorLabels" -}}
app.kubernetes.io/name: {{ include "docket.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "docket.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Service names, which are also the DNS names components dial. */}}
{{- define "docket.origin.service" -}}{{ include "docket.fullname" . }}-origin{{- end -}}
{{- define "docket.buildIndex.service" -}}{{ include "docket.fullname" . }}-build-index{{- end -}}
{{- define "docket.tracker.service" -}}{{ include "docket.fullname" . }}-tracker{{- end -}}
{{- define "docket.proxy.service" -}}{{ include "docket.fullname" . }}-proxy{{- end -}}

{{/* Ring address of origin pod i: its stable DNS name through the headless service. */}}
{{- define "docket.origin.addr" -}}
{{- $svc := include "docket.origin.service" .root -}}
{{- printf "%s-%d.%s.%s.svc:%d" $svc (int .index) $svc .root.Release.Namespace (int .root.Values.origin.port) -}}
{{- end -}}

{{/* Every origin's ring address, as a YAML list. */}}
{{- define "docket.origin.addrs" -}}
{{- $root := . -}}
{{- range $i := until (int .Values.origin.replicas) }}
- {{ include "docket.origin.addr" (dict "root" $root "index" $i) }}
{{- end -}}
{{- end -}}

{{- define "docket.buildIndex.addr" -}}
{{- printf "%s.%s.svc:%d" (include "docket.buildIndex.service" .) .Release.Namespace (int .Values.buildIndex.port) -}}
{{- end -}}

{{- define "docket.tracker.addr" -}}
{{- printf "%s.%s.svc:%d" (include "docket.tracker.service" .) .Release.Namespace (int .Values.tracker.port) -}}
{{- end -}}

{{/* Container arguments common to every component. */}}
{{- define "docket.globalArgs" -}}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
{{- end -}}

{{/* HTTP probes on /health; call with the port number. */}}
{{- define "docket.probes" -}}
readinessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: 5
  failureThreshold: 3
livenessProbe:
  httpGet:
    path: /health
    port: http
  initialDelaySeconds: 10
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}
