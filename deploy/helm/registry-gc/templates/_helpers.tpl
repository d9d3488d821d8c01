{{/* Chart name, overridable. */}}
{{- define "registry-gc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, with the chart name appended unless already part of it. */}}
{{- define "registry-gc.fullname" -}}
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

{{- define "registry-gc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "registry-gc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "registry-gc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "registry-gc.labels" -}}
helm.sh/chart: {{ include "registry-gc.chart" . }}
{{ include "registry-gc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "registry-gc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "registry-gc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* ClusterRole and ClusterRoleBinding are cluster-wide, and Roles may land in other namespaces:
the release namespace keeps two releases of the same name in different namespaces apart. */}}
{{- define "registry-gc.clusterRoleName" -}}
{{- printf "%s-%s" .Release.Namespace (include "registry-gc.fullname" .) }}
{{- end }}

{{/* The Secret injected with envFrom: an existing one, or the chart's (only when it has entries). */}}
{{- define "registry-gc.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else if .Values.secret.env }}
{{- include "registry-gc.fullname" . }}
{{- end }}
{{- end }}

{{/* The Secret holding the admin token: one you manage, or the chart's. */}}
{{- define "registry-gc.adminTokenSecretName" -}}
{{- default (printf "%s-admin-token" (include "registry-gc.fullname" .)) .Values.adminToken.existingSecret }}
{{- end }}

{{/* PromQL label matchers selecting this release's series (alerts). */}}
{{- define "registry-gc.promSelector" -}}
{{- default (printf "job=%q,namespace=%q" (include "registry-gc.fullname" .) .Release.Namespace) .Values.prometheusRule.selector }}
{{- end }}

{{/* The [cluster] table appended to registry-gc.toml when cluster protection is enabled. */}}
{{- define "registry-gc.clusterTable" -}}
{{- $cp := .Values.clusterProtection }}
[cluster]
# Written by the Helm chart from clusterProtection.* values.
namespaces = {{ $cp.namespaces | default list | toJson }}
{{- $paths := list }}
{{- range $cp.kubeconfigs.keys }}
{{- $paths = append $paths (printf "%s/%s" (trimSuffix "/" $cp.kubeconfigs.mountPath) .) }}
{{- end }}
kubeconfigs = {{ $paths | toJson }}
{{- with $cp.extraConfig }}
{{ . }}
{{- end }}
{{- end }}

{{/* Exactly what cluster protection reads (issue 8): workloads, their pod templates and rollback
history, get/list/watch only; plus clusterProtection.extraRules. */}}
{{- define "registry-gc.clusterProtectionRules" -}}
- apiGroups: [""]
  resources: ["pods", "replicationcontrollers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["batch"]
  resources: ["jobs", "cronjobs"]
  verbs: ["get", "list", "watch"]
{{- with .Values.clusterProtection.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "registry-gc.image" -}}
{{- $repository := required "image.repository is required: push the image built from deploy/Dockerfile and set its repository" .Values.image.repository }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Settings that cannot work together fail the render with a message naming the values. */}}
{{- define "registry-gc.validate" -}}
{{- $type := .Values.database.type }}
{{- if not (has $type (list "sqlite" "postgres")) }}
{{- fail (printf "database.type must be \"sqlite\" or \"postgres\", not %q" (toString $type)) }}
{{- end }}
{{- if and (eq $type "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount=%d needs database.type=postgres: SQLite is a file on one volume with one writer, so it runs exactly one replica" (int .Values.replicaCount)) }}
{{- end }}
{{- $config := toString .Values.config }}
{{- if regexMatch "(?m)^\\s*admin_token\\s*=" $config }}
{{- fail "config sets server.admin_token: the chart sets it from adminToken.* (a generated Secret, or adminToken.existingSecret); remove it from config" }}
{{- end }}
{{- if hasKey .Values.secret.env "RGC_ADMIN_TOKEN" }}
{{- fail "secret.env.RGC_ADMIN_TOKEN would be ignored: the admin token comes from adminToken.* (put your token in a Secret and set adminToken.existingSecret)" }}
{{- end }}
{{- if .Values.clusterProtection.enabled }}
{{- if regexMatch "(?m)^\\s*cluster_protection\\s*=" $config }}
{{- fail "clusterProtection.enabled: the chart sets gc.cluster_protection; remove it from config" }}
{{- end }}
{{- if regexMatch "(?m)^\\s*\\[\\s*cluster\\s*\\]" $config }}
{{- fail "clusterProtection.enabled: the chart writes the [cluster] table from clusterProtection.*; remove it from config (extra keys go in clusterProtection.extraConfig)" }}
{{- end }}
{{- if and .Values.clusterProtection.kubeconfigs.keys (not .Values.clusterProtection.kubeconfigs.secretName) }}
{{- fail "clusterProtection.kubeconfigs.keys needs clusterProtection.kubeconfigs.secretName, the Secret holding those kubeconfig files" }}
{{- end }}
{{- end }}
{{- if eq $type "postgres" }}
{{- if not (or .Values.database.postgres.urlSecretName (include "registry-gc.secretName" .)) }}
{{- fail "database.type=postgres needs the database URL in a Secret: set database.postgres.urlSecretName, secret.existingSecret, or secret.env.<database.postgres.urlSecretKey>" }}
{{- end }}
{{- if and (not .Values.database.postgres.urlSecretName) (not .Values.secret.existingSecret) (not (hasKey .Values.secret.env .Values.database.postgres.urlSecretKey)) }}
{{- fail (printf "database.type=postgres: secret.env has no key %q (database.postgres.urlSecretKey) holding the database URL" .Values.database.postgres.urlSecretKey) }}
{{- end }}
{{- end }}
{{- end }}
