{{/* Names, labels and the parts every pod shares. */}}
{{- define "pmsync.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pmsync.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "pmsync.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pmsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pmsync.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pmsync.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if contains "@" .Values.image.repository -}}
{{ .Values.image.repository }}
{{- else -}}
{{ printf "%s:%s" .Values.image.repository $tag }}
{{- end -}}
{{- end -}}

{{/* Environment of every pmsync container, hook Jobs included (they run before any
     ConfigMap of the release would exist, so nothing here comes from one). DSNs come from
     the existing Secrets, never from values. */}}
{{- define "pmsync.env" -}}
- name: PMSYNC_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: PMSYNC_TOPIC_PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: PMSYNC_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: PMSYNC_GROUP_PREFIX
  value: {{ .Values.kafka.groupPrefix | quote }}
- name: PMSYNC_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.key }}
- name: PMSYNC_API_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.apiExistingSecret }}
      key: {{ .Values.database.apiKey }}
- name: PMSYNC_SECRETS_DIR
  value: /run/pmsync-secrets
- name: PMSYNC_STACK_DIR
  value: /tmp/pmsync
- name: PMSYNC_PROBE_ALIVE_S
  value: {{ .Values.probes.aliveWithinSeconds | quote }}
- name: PMSYNC_PROBE_STUCK_S
  value: {{ .Values.probes.stuckAfterSeconds | quote }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Pod-level fields shared by Deployments and hook Jobs. */}}
{{- define "pmsync.podCommon" -}}
serviceAccountName: {{ include "pmsync.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The container fields shared by every pmsync container. */}}
{{- define "pmsync.containerCommon" -}}
image: {{ include "pmsync.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
env:
  {{- include "pmsync.env" . | nindent 2 }}
{{- end -}}

{{/* The largest replica count KEDA may set: never more consumers than partitions. */}}
{{- define "pmsync.kedaMax" -}}
{{- min .Values.keda.maxReplicas .Values.kafka.partitions -}}
{{- end -}}
