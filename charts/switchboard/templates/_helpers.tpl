{{/* Names ------------------------------------------------------------------------------------ */}}

{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name: <release> when it contains the chart name, else <release>-<chart>. */}}
{{- define "switchboard.fullname" -}}
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

{{- define "switchboard.webhooksName" -}}
{{- printf "%s-webhooks" (include "switchboard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchboard.metricsServiceName" -}}
{{- printf "%s-metrics" (include "switchboard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The leader election Lease: one per release. */}}
{{- define "switchboard.leaseName" -}}
{{- default (printf "%s-controller" (include "switchboard.fullname" .)) .Values.controller.leaderElection.leaseName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels ----------------------------------------------------------------------------------- */}}

{{- define "switchboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchboard.labels" -}}
helm.sh/chart: {{ include "switchboard.chart" . }}
{{ include "switchboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchboard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: (dict "root" $ "component" "controller") */}}
{{- define "switchboard.componentLabels" -}}
{{ include "switchboard.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "switchboard.componentSelectorLabels" -}}
{{ include "switchboard.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Service accounts ------------------------------------------------------------------------- */}}

{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchboard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The webhook server's own account when it runs as its own Deployment; else the pod's. */}}
{{- define "switchboard.webhooksServiceAccountName" -}}
{{- if .Values.webhooks.separateDeployment }}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchboard.webhooksName" .) .Values.webhooks.serviceAccountName }}
{{- else }}
{{- default "default" .Values.webhooks.serviceAccountName }}
{{- end }}
{{- else }}
{{- include "switchboard.serviceAccountName" . }}
{{- end }}
{{- end }}

{{/*
The webhook server as its own Deployment holds no Kubernetes credentials either: it asks the
controller over the TCP bridge, with a token from a Secret mounted into the two containers alone.
Not with sharding.shards: the bridge is one controller's, which knows only its own shard's
objects, so a sharded install keeps the webhook server's own account (get on Secrets by name).
*/}}
{{- define "switchboard.webhooksBridged" -}}
{{- if and .Values.webhooks.enabled .Values.webhooks.separateDeployment (not .Values.sharding.shards) }}true{{ end }}
{{- end }}

{{- define "switchboard.bridgeName" -}}
{{- printf "%s-bridge" (include "switchboard.fullname" .) }}
{{- end }}

{{/* The Secret holding the bridge token: one you provide (webhooks.bridgeTokenSecret), or the chart's. */}}
{{- define "switchboard.bridgeSecretName" -}}
{{- default (include "switchboard.bridgeName" .) .Values.webhooks.bridgeTokenSecret }}
{{- end }}

{{/* Image ------------------------------------------------------------------------------------ */}}

{{- define "switchboard.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Kinds ------------------------------------------------------------------------------------ */}}

{{/*
The resource names (plurals) of every Switchboard kind, read from the CRDs the chart ships
(files/crds/, copied from crds/ by hack/ship/sync-chart-crds.sh): a new kind needs no chart
change. JSON list, sorted.
*/}}
{{- define "switchboard.resources" -}}
{{- $plurals := list }}
{{- range $path, $_ := .Files.Glob "files/crds/*.yaml" }}
{{- $crd := $.Files.Get $path | fromYaml }}
{{- $plurals = append $plurals $crd.spec.names.plural }}
{{- end }}
{{- toJson (sortAlpha $plurals) }}
{{- end }}

{{/* The same list with a subresource suffix: (dict "root" $ "suffix" "/status") */}}
{{- define "switchboard.subresources" -}}
{{- $out := list }}
{{- range (include "switchboard.resources" .root | fromJsonArray) }}
{{- $out = append $out (printf "%s%s" . $.suffix) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* RBAC rules ------------------------------------------------------------------------------- */}}

{{/*
What the controller needs: watch its kinds and the Secrets they name, write their status and
finalizers, record Events. Never create or delete a resource. It creates and updates only the
Secrets labelled switchboard.dev/controller-writable=true (a campaign's progress records, rotated
OAuth tokens): RBAC cannot say "only with this label", so templates/secret-writes-policy.yaml
does, and rbac.secretWritePolicy must stay on for the write verbs to be granted.
*/}}
{{- define "switchboard.controllerRules" -}}
- apiGroups: ["switchboard.dev"]
  resources: {{ include "switchboard.resources" . }}
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["switchboard.dev"]
  resources: {{ include "switchboard.subresources" (dict "root" . "suffix" "/status") }}
  verbs: ["get", "patch", "update"]
- apiGroups: ["switchboard.dev"]
  resources: {{ include "switchboard.subresources" (dict "root" . "suffix" "/finalizers") }}
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
{{- if .Values.rbac.secretWritePolicy }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "patch", "update"]
{{- end }}
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
What the webhook server needs: watch the kinds (to route a path to its resource), patch them (the
requested-at annotation) and their status (callback-only data), read a Secret by name (it never
lists or watches Secrets), record Events.
*/}}
{{- define "switchboard.webhooksRules" -}}
- apiGroups: ["switchboard.dev"]
  resources: {{ include "switchboard.resources" . }}
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["switchboard.dev"]
  resources: {{ include "switchboard.subresources" (dict "root" . "suffix" "/status") }}
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* Flags ------------------------------------------------------------------------------------ */}}

{{/* The public base URL providers call: webhooks.publicURL, else the Ingress host. */}}
{{- define "switchboard.publicURL" -}}
{{- if .Values.webhooks.publicURL }}
{{- .Values.webhooks.publicURL | trimSuffix "/" }}
{{- else if and .Values.webhooks.ingress.enabled .Values.webhooks.ingress.host }}
{{- printf "%s://%s" (ternary "https" "http" .Values.webhooks.ingress.tls.enabled) .Values.webhooks.ingress.host }}
{{- end }}
{{- end }}

{{/* Pod parts -------------------------------------------------------------------------------- */}}

{{/* Topology spread constraints; a constraint without a labelSelector gets the component's. */}}
{{- define "switchboard.topologySpread" -}}
{{- $selector := include "switchboard.componentSelectorLabels" (dict "root" .root "component" .component) | fromYaml }}
{{- range .root.Values.topologySpreadConstraints }}
- {{ toYaml (merge (dict) . (dict "labelSelector" (dict "matchLabels" $selector))) | indent 2 | trim }}
{{- end }}
{{- end }}

{{- define "switchboard.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
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
volumes:
  - name: tmp
    emptyDir:
      {{- with .Values.tmpVolume.sizeLimit }}
      sizeLimit: {{ . }}
      {{- end }}
{{- end }}

{{- define "switchboard.downwardEnv" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}

{{/* The webhook server's container, shared by the sidecar and the separate Deployment. */}}
{{- define "switchboard.webhooksContainer" -}}
{{- /* Called with the root context (separate Deployment) or (dict "root" . "sidecar" true). */}}
{{- $root := .root | default . }}
{{- $sidecar := .sidecar | default false }}
- name: webhooks
  image: {{ include "switchboard.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args:
    - webhooks
    - --bind-address=0.0.0.0:{{ $root.Values.webhooks.port }}
    {{- with include "switchboard.publicURL" $root }}
    - --public-url={{ . }}
    {{- end }}
    - --body-limit={{ $root.Values.webhooks.bodyLimit }}
    - --rate-limit={{ $root.Values.webhooks.rateLimit }}
    - --connect-rate-limit={{ $root.Values.webhooks.connectRateLimit }}
    {{- $trust := toString $root.Values.webhooks.trustProxy }}
    - --trust-proxy={{ ternary (ternary "1" "0" $root.Values.webhooks.ingress.enabled) $trust (eq $trust "") }}
    - --log-level={{ $root.Values.logLevel }}
    {{- if $sidecar }}
    # no Kubernetes credentials: routing, webhook secrets and reconciles come from the controller
    - --controller-socket=/var/run/switchboard/bridge.sock
    {{- else if include "switchboard.webhooksBridged" $root }}
    # no Kubernetes credentials: the same from the controller, over TCP with the bridge token
    - --controller-url=http://{{ include "switchboard.bridgeName" $root }}.{{ $root.Release.Namespace }}.svc:{{ $root.Values.webhooks.bridgePort }}
    - --controller-token-file=/var/run/switchboard-bridge/token
    {{- else if $root.Values.watchNamespaces }}
    - --namespaces={{ join "," $root.Values.watchNamespaces }}
    {{- end }}
    {{- with $root.Values.webhooks.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  env:
    {{- include "switchboard.downwardEnv" $root | nindent 4 }}
    {{- with $root.Values.webhooks.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: http
      containerPort: {{ $root.Values.webhooks.port }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: http
    {{- toYaml $root.Values.webhooks.livenessProbe | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: http
    {{- toYaml $root.Values.webhooks.readinessProbe | nindent 4 }}
  resources:
    {{- toYaml $root.Values.webhooks.resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- if $sidecar }}
    - name: bridge
      mountPath: /var/run/switchboard
    {{- else if include "switchboard.webhooksBridged" $root }}
    - name: bridge-token
      mountPath: /var/run/switchboard-bridge
      readOnly: true
    {{- end }}
{{- end }}

{{/* The bridge token's volume (the controller and the webhook server of its own Deployment). */}}
{{- define "switchboard.bridgeTokenVolume" -}}
- name: bridge-token
  secret:
    secretName: {{ include "switchboard.bridgeSecretName" . }}
    defaultMode: 0444
    items:
      - key: token
        path: token
{{- end }}
