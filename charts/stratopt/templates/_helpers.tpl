{{- define "stratopt.labels" -}}
app.kubernetes.io/name: stratopt
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "stratopt.selector" -}}
app.kubernetes.io/name: stratopt
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "stratopt.operatorName" -}}
{{ .Release.Name }}-operator
{{- end -}}
