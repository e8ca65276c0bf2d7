/**
 * The alert catalog: every alert as data, following monitoring-mixin
 * conventions. One catalog is rendered to Grafana-managed rule groups,
 * Prometheus rule files / PrometheusRule objects, and AMP rule groups.
 *
 * Severities:
 * - `critical`: users are affected now or data is being corrupted; pages someone.
 * - `warning`: will affect users if left alone; goes to the team's chat.
 * - `info`: worth knowing, no action expected soon; chat or email only.
 */
import { podMonitorJob, scrapeJobNames } from "../domain/naming";
import { absenceChecks, absenceExpr, type AbsenceCheck } from "./absence";
import { buildDashboards } from "../dashboards/index";
import type { MetricName } from "../monitoring/metrics";
import { contractReaders, seriesReaders, type MetricReaders, type ReaderSources } from "./readers";
import { gpuResourceMatcher, rateWindow, recordedNames, recordingRules, type RecordedNames } from "../monitoring/recording";
import type { AlertThresholds } from "../monitoring/thresholds";
import { defaultSloSpec, sloAlerts, sloLatencyBuckets, sloRecordingRules, type SloSpec } from "../monitoring/slo";
import { escapeRegexInPromqlString } from "../lib/escapeRegex";
import { runbookUrl } from "../monitoring/runbooks";

export { runbookUrl };

export const severities = ["critical", "warning", "info"] as const;
export type Severity = (typeof severities)[number];

export type AlertGroup = "serving" | "gpu" | "routing" | "targets" | "capacity" | "slo" | "contract";

export interface AlertRule {
  /** CamelCase `<Component><Symptom>`, prefixed `Infermesh`. */
  name: string;
  group: AlertGroup;
  /** PromQL returning one series per firing instance. */
  expr: string;
  /** Always explicit; `0s` fires on the first evaluation that matches. */
  for: string;
  severity: Severity;
  /** Short, static. */
  summary: string;
  /** Templated with `{{ $labels.… }}` and `{{ $value }}`. */
  description: string;
  /**
   * What a Grafana-evaluated rule does when its query returns nothing. `OK`
   * for threshold alerts (no series means nothing is over the line);
   * alerts built on `absent`/`unless` return nothing when healthy too.
   */
  noDataState: "OK" | "NoData" | "Alerting" | "KeepLast";
  /** What a Grafana-evaluated rule does when its query fails: surface it as an error, never as healthy. */
  execErrState: "Error" | "Alerting" | "OK" | "KeepLast";
}

/** An alert as delivered: with `runbook_url` and the stack's labels. */
export interface DeliveredAlert extends AlertRule {
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface AlertContext {
  thresholds: AlertThresholds;
  /** Per-model overrides; models not listed use the defaults. */
  models: Record<string, { queueDepthMax?: number; latencyP95MaxMs?: number }>;
  scrapeIntervalSeconds: number;
  /** Maximum size of each GPU pool, by pool name (pool-at-max alert). */
  poolMaxSizes?: Record<string, number>;
  /** Idle and pending-pod settings; defaults: idle for 1h, pending for 10m. */
  capacity?: { idleWindow: string; pendingPodTimeout: string };
  /** Per-model SLOs; defaults to `defaultSloSpec`. */
  slo?: SloSpec;
}

/** An alert as the catalog writes it: Grafana's no-data and error states default to the threshold alerts' own. */
type CatalogEntry = Omit<AlertRule, "noDataState" | "execErrState"> & Partial<Pick<AlertRule, "noDataState" | "execErrState">>;
const withGrafanaStates = (a: CatalogEntry): AlertRule => ({ ...a, noDataState: a.noDataState ?? "OK", execErrState: a.execErrState ?? "Error" });

const quote = (value: string) => JSON.stringify(value);
const regexAlternation = (values: string[]) => values.map(escapeRegexInPromqlString).join("|");

/**
 * `series > threshold` with a threshold per model: one term per configured
 * model, and one for every other model at the default. The terms select
 * disjoint models, so `or` never hides one behind another.
 */
export function perModelThreshold(series: (matcher: string) => string, defaultLimit: number, limits: Record<string, number>): string {
  const models = Object.keys(limits).sort();
  const terms = models.map((m) => `${series(`model=${quote(m)}`)} > ${limits[m]}`);
  const rest = models.length === 0 ? "" : `model!~"${regexAlternation(models)}"`;
  terms.push(`${series(rest)} > ${defaultLimit}`);
  return terms.length === 1 ? (terms[0] as string) : terms.map((t) => `(${t})`).join(" or ");
}

const selector = (name: string, matcher: string) => (matcher ? `${name}{${matcher}}` : name);

function limitsOf(models: AlertContext["models"], key: "queueDepthMax" | "latencyP95MaxMs"): Record<string, number> {
  return Object.fromEntries(Object.entries(models).flatMap(([m, t]) => (t[key] === undefined ? [] : [[m, t[key] as number]])));
}

/** `count of the pool's nodes >= its max`, one term per pool (pools are disjoint). */
function poolAtMaxExpr(nodePool: string, maxSizes: Record<string, number>): string | undefined {
  const pools = Object.keys(maxSizes).sort();
  if (pools.length === 0) return undefined;
  const terms = pools.map((p) => `count by (pool) (${nodePool}{pool=${quote(p)}}) >= ${maxSizes[p]}`);
  return terms.length === 1 ? terms[0] : terms.map((t) => `(${t})`).join(" or ");
}

/** The threshold alerts below and the SLO burn-rate alerts: everything the absence alert watches over. */
function readingAlerts(ctx: AlertContext): AlertRule[] {
  return [
    ...thresholdAlerts(ctx),
    ...sloAlerts(ctx.slo ?? defaultSloSpec, ctx.scrapeIntervalSeconds).map(
      (a): AlertRule => withGrafanaStates({ name: a.name, group: "slo", expr: a.expr, for: a.for, severity: a.severity, summary: a.summary, description: a.description }),
    ),
  ];
}

/** What the stack's alerts, recording rules and dashboards read, for the readers of each series. */
function readerSources(ctx: AlertContext, alerts: readonly AlertRule[]): ReaderSources {
  const slo = ctx.slo ?? defaultSloSpec;
  return {
    alerts,
    recording: recordingRules(ctx.scrapeIntervalSeconds, { slo, ...(ctx.capacity ? { idleWindow: ctx.capacity.idleWindow } : {}) }),
    // Panel titles and queries do not depend on the stack's name or environment.
    dashboards: buildDashboards({
      stack: "readers",
      environment: "readers",
      scrapeIntervalSeconds: ctx.scrapeIntervalSeconds,
      thresholds: ctx.thresholds,
      models: ctx.models,
      slo,
      ...(ctx.capacity ? { idleWindow: ctx.capacity.idleWindow } : {}),
    }),
  };
}

/** For every contract metric, the alerts (all but the absence alert) and dashboard panels that read it. */
export function contractMetricReaders(ctx: AlertContext): Record<MetricName, MetricReaders> {
  return contractReaders(readerSources(ctx, readingAlerts(ctx)));
}

/** One check per contract metric (and per latency bucket the SLO reads), with the alerts and panels that read it. */
export function contractAbsenceChecks(ctx: AlertContext, alerts: readonly AlertRule[] = readingAlerts(ctx)): AbsenceCheck[] {
  const slo = ctx.slo ?? defaultSloSpec;
  const sources = readerSources(ctx, alerts);
  // The recorded SLO series hold the latency SLI beside availability: whatever reads them goes blind on latency without the bucket.
  const bucketReaders = seriesReaders(
    sources,
    sloRecordingRules(slo, ctx.scrapeIntervalSeconds).map((r) => r.record),
  );
  return absenceChecks(
    contractReaders(sources),
    sloLatencyBuckets(slo).map((boundMs) => ({ boundMs, readers: bucketReaders })),
  );
}

/**
 * Every alert: the catalog below, the SLO burn-rate alerts, and the absence
 * alert that names what each contract metric's absence silences.
 */
export function alertCatalog(ctx: AlertContext): AlertRule[] {
  const alerts = readingAlerts(ctx);
  return [
    ...alerts,
    withGrafanaStates({
      name: "InfermeshContractMetricAbsent",
      group: "contract",
      expr: absenceExpr(contractAbsenceChecks(ctx, alerts)),
      for: "10m",
      severity: "warning",
      summary: "A metric the alerts and dashboards read is exposed by no target.",
      description:
        "{{ $labels.metric }} has been missing from every {{ $labels.exposed_by }} target for 10 minutes while they are scraped. Alerts that read it cannot fire: {{ $labels.read_by_alerts }}. Panels that read it show no data: {{ $labels.read_by_panels }}.",
    }),
  ];
}

function thresholdAlerts(ctx: AlertContext): AlertRule[] {
  const r: RecordedNames = recordedNames(rateWindow(ctx.scrapeIntervalSeconds));
  const t = ctx.thresholds;
  const capacity = ctx.capacity ?? { idleWindow: "1h", pendingPodTimeout: "10m" };
  const poolAtMax = poolAtMaxExpr(r.nodePool, ctx.poolMaxSizes ?? {});
  const entries: CatalogEntry[] = [
    {
      name: "InfermeshHighQueueDepth",
      group: "serving",
      expr: perModelThreshold((m) => selector(r.queueDepth, m), t.queueDepthMax, limitsOf(ctx.models, "queueDepthMax")),
      for: "5m",
      severity: "warning",
      summary: "Requests are piling up in a model's queue.",
      description: "Average queue depth of model {{ $labels.model }} is {{ $value }}, above its limit, for 5 minutes.",
    },
    {
      name: "InfermeshGpuNearOom",
      group: "gpu",
      expr: `${r.vramRatio} > ${t.vramUsedRatioMax}`,
      for: "5m",
      severity: "warning",
      summary: "A GPU is close to running out of memory.",
      description:
        "GPU {{ $labels.gpu_uuid }}{{ if $labels.mig_profile }} ({{ $labels.mig_profile }}){{ end }} on node {{ $labels.node }} has used {{ $value | humanizePercentage }} of its memory for 5 minutes.",
    },
    {
      name: "InfermeshLatencyP95Breach",
      group: "serving",
      expr: perModelThreshold((m) => selector(r.latencyP95, m), t.latencyP95MaxMs, limitsOf(ctx.models, "latencyP95MaxMs")),
      for: "10m",
      severity: "critical",
      summary: "A model's p95 inference latency is over its limit.",
      description: 'p95 latency of model {{ $labels.model }} is {{ $value | printf "%.0f" }} ms, above its limit, for 10 minutes.',
    },
    {
      name: "InfermeshNodeDown",
      group: "serving",
      expr: "max by (node) (infermesh_node_healthy) == 0",
      for: "2m",
      severity: "critical",
      summary: "An infermesh node is unhealthy.",
      description: "Node {{ $labels.node }} has been reported unhealthy by gossip for 2 minutes.",
    },
    {
      name: "InfermeshGpuEccDoubleBitErrors",
      group: "gpu",
      expr: `max by (gpu_uuid, node, zone) (increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[10m])) > 0`,
      for: "0s",
      severity: "critical",
      summary: "A GPU reported uncorrectable (double-bit) ECC errors.",
      description:
        'GPU {{ $labels.gpu_uuid }} on node {{ $labels.node }} reported {{ $value | printf "%.0f" }} double-bit ECC errors in 10 minutes; its results may be corrupt. Drain the node.',
    },
    {
      name: "InfermeshGpuThermalThrottling",
      group: "gpu",
      expr: `max by (gpu_uuid, node, zone) (rate(DCGM_FI_DEV_THERMAL_VIOLATION[5m])) / 1e9 > ${t.thermalThrottleRatioMax}`,
      for: "15m",
      severity: "warning",
      summary: "A GPU is thermally throttled most of the time.",
      description: "GPU {{ $labels.gpu_uuid }} on node {{ $labels.node }} spent {{ $value | humanizePercentage }} of the last 5 minutes thermally throttled, for 15 minutes.",
    },
    {
      name: "InfermeshGpuXidErrors",
      group: "gpu",
      // The field holds the last XID code and keeps it; a change in the last 15 minutes is a new error.
      expr: "max by (gpu_uuid, node, zone) (DCGM_FI_DEV_XID_ERRORS) != 0 and on (gpu_uuid, node) max by (gpu_uuid, node) (changes(DCGM_FI_DEV_XID_ERRORS[15m])) > 0",
      for: "0s",
      severity: "warning",
      summary: "A GPU reported an XID error.",
      description: "GPU {{ $labels.gpu_uuid }} on node {{ $labels.node }} reported XID {{ $value }}.",
    },
    {
      name: "InfermeshGpuMetricsAbsent",
      group: "targets",
      expr: 'max by (node) (kube_node_labels{label_infermesh_io_node_class="gpu"}) unless on (node) max by (node) (DCGM_FI_DEV_FB_TOTAL)',
      for: "10m",
      severity: "warning",
      summary: "A GPU node has no GPU metrics.",
      description: "Node {{ $labels.node }} is a GPU node but no DCGM metrics have arrived from it for 10 minutes; check the dcgm-exporter pod there.",
    },
    {
      name: "InfermeshDcgmExporterDown",
      group: "targets",
      expr: `up{job="${podMonitorJob(scrapeJobNames.dcgm)}"} == 0`,
      for: "5m",
      severity: "warning",
      summary: "A dcgm-exporter cannot be scraped.",
      description: "dcgm-exporter {{ $labels.instance }} on node {{ $labels.node }} has failed every scrape for 5 minutes.",
    },
    {
      name: "InfermeshTargetDown",
      group: "targets",
      expr: `up{job=~"${podMonitorJob(scrapeJobNames.infermesh(".*"))}"} == 0`,
      for: "5m",
      severity: "warning",
      summary: "An infermesh Router, Agent or Adapter cannot be scraped.",
      description: "{{ $labels.job }} pod {{ $labels.namespace }}/{{ $labels.pod }} on node {{ $labels.node }} has failed every scrape for 5 minutes.",
    },
    {
      name: "InfermeshAdmissionRejectionsHigh",
      group: "routing",
      expr: `sum by (model) (${r.rejections}) / sum by (model) (${r.routerRequests}) > ${t.rejectionRatioMax}`,
      for: "10m",
      severity: "warning",
      summary: "Routers reject a large share of a model's requests.",
      description: "Routers rejected {{ $value | humanizePercentage }} of requests for model {{ $labels.model }} (HTTP 429) for 10 minutes.",
    },
    {
      name: "InfermeshErrorRateHigh",
      group: "serving",
      expr: `sum by (model) (${r.errors}) / sum by (model) (${r.inferences}) > ${t.errorRatioMax}`,
      for: "10m",
      severity: "critical",
      summary: "A large share of a model's inferences fail.",
      description: "{{ $value | humanizePercentage }} of inferences of model {{ $labels.model }} failed for 10 minutes.",
    },
    {
      name: "InfermeshGpuPodsPending",
      group: "capacity",
      expr: `max by (namespace, pod) (kube_pod_status_phase{phase="Pending"}) == 1 and on (namespace, pod) max by (namespace, pod) (kube_pod_container_resource_requests{${gpuResourceMatcher}}) > 0`,
      for: capacity.pendingPodTimeout,
      severity: "warning",
      summary: "A pod that needs a GPU cannot be scheduled.",
      description: `Pod {{ $labels.namespace }}/{{ $labels.pod }} has been waiting for a GPU for ${capacity.pendingPodTimeout}; its pool may be at its maximum size or out of that capacity type.`,
    },
    ...(poolAtMax
      ? [
          {
            name: "InfermeshGpuPoolAtMaxSize",
            group: "capacity" as const,
            expr: poolAtMax,
            for: "15m",
            severity: "warning" as const,
            summary: "A GPU pool is at its maximum size.",
            description: "GPU pool {{ $labels.pool }} has {{ $value }} nodes, its maximum, for 15 minutes; it cannot grow for more demand.",
          },
        ]
      : []),
    {
      name: "InfermeshGpuIdle",
      group: "capacity",
      // The recorded series is 1 while a pod holds the GPU below the idle threshold.
      expr: `${r.gpuIdle} == 1`,
      for: capacity.idleWindow,
      severity: "info",
      summary: "A GPU held by a pod is doing almost nothing.",
      description: `GPU {{ $labels.gpu_uuid }}{{ if $labels.mig_profile }} ({{ $labels.mig_profile }}){{ end }} on node {{ $labels.node }}, held by {{ $labels.namespace }}/{{ $labels.pod }}, has been idle for ${capacity.idleWindow}.`,
    },
  ];
  return entries.map(withGrafanaStates);
}

/** The single pass that gives every alert its runbook link and the stack's labels. */
export function deliver(rules: readonly AlertRule[], opts: { runbookBaseUrl: string; labels: Record<string, string> }): DeliveredAlert[] {
  return rules.map((rule) => ({
    ...rule,
    labels: { severity: rule.severity, ...opts.labels },
    annotations: { summary: rule.summary, description: rule.description, runbook_url: runbookUrl(opts.runbookBaseUrl, rule.name) },
  }));
}
