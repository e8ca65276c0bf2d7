/**
 * Proof against a real Prometheus: the synthetic fleet (sim/) is scraped
 * through a stack's own rendered scrape configuration (pod discovery swapped
 * for static pods), with the stack's recording and alert rule groups loaded.
 * Then every dashboard panel query, the seed's panel queries and alert
 * expressions (verbatim) and every scenario's alerts are checked.
 *
 * Scrapes and rule evaluations run every second instead of the stack's
 * interval, so the run fits in a few minutes. The expressions are the stack's
 * own, windows included; an alert's `for` is never waited out here (pending
 * counts as raised): promtool's rule tests check every `for`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import type { StackConfig } from "../config";
import { loadConfig } from "../config/load";
import { alertContext, alertingPlan } from "../components/alerting.plan";
import { dashboardsFor } from "../components/grafanaContent.plan";
import { scrapeConfig, type ScrapeJob } from "../components/scrapeJobs";
import { telemetryPlan } from "../components/telemetry.plan";
import { monitoringNamespace } from "../domain/naming";
import { contractAbsenceChecks, contractMetricReaders } from "../alerts/catalog";
import { contractLabels, metrics, seriesNames, type MetricName } from "../monitoring/metrics";
import { rateWindow } from "../monitoring/recording";
import type { PrometheusRuleGroup } from "../alerts/prometheusRules";
import { seedAlerts, seedPanels } from "../dashboards/seed";
import { offlineLookups } from "../synth/lookups";
import { startRecording } from "../synth/runtime";
import { readStackFile } from "../synth/stackFile";
import { projectRoot } from "../synth/synthesize";
import type { DiscoveredPod } from "../sim/discovery";
import { Fleet } from "../sim/fleet";
import { discoveredPods, serveFleet, servedKubeStateMetricsScrapeConfig, type ServedFleet } from "../sim/http";
import { defaultShape, type FleetShape } from "../sim/model";
import { scenarios, type ExpectedAlert, type ScenarioName } from "../sim/scenarios";
import { fleetSettings, stackScrapeConfigs } from "./stackFleet";
import { startPrometheus, type InstantSample, type PrometheusServer } from "./prometheus";
import { sleep } from "../lib/sleep";
import { textTable } from "../lib/textTable";
import { panelsOf, targetsOf, type PanelJson } from "../lib/dashboardJson";
import { servedOperands, substituteVariables } from "../lib/promql";

// ---------------------------------------------------------------------------
// Settings of a verification run

/** Scrape and rule-evaluation interval of the verification Prometheus. */
export const verifyInterval = "1s";

/**
 * Values of Grafana's built-in variables in panel queries: `$__rate_interval`
 * must hold several 1 s scrapes, `$__range` is a typical dashboard range.
 */
export const builtinVariables: Readonly<Record<string, string>> = { __rate_interval: "30s", __range: "5m", __interval: "5s", __range_s: "300", __interval_ms: "5000" };

/**
 * Scenarios in the order they run. Alerts on a ratio of rates over a window
 * first: while Prometheus holds little history, a few seconds of bad samples
 * are a large share of the window.
 */
export const runOrder: readonly ScenarioName[] = [
  "slo-slow-burn",
  "slo-fast-burn",
  "latency-breach",
  "error-spike",
  "rejection-spike",
  "thermal-throttling",
  "ecc-double-bit",
  "vram-near-oom",
  "queue-spike",
  "node-down",
  "dcgm-exporter-gone",
  "agent-gone",
  "gpu-idle",
  "gpu-pod-pending",
  "pool-at-max-size",
  "contract-metric-gone",
];

export interface RunOptions {
  shape?: Partial<FleetShape>;
  /** Scenarios to play (healthy always runs first); default `runOrder`. */
  scenarios?: readonly ScenarioName[];
  /** Progress lines. */
  log?: (line: string) => void;
  /** Bound on one scenario's wait for its alerts (default 40 s). */
  scenarioTimeoutMs?: number;
  /** Bound on the whole run (default 170 s); scenarios that would start after it fail as not run. */
  budgetMs?: number;
  /** How long the healthy fleet is watched for alerts (default 4 s). */
  healthyWindowMs?: number;
}

// ---------------------------------------------------------------------------
// Report

export interface TargetRow {
  job: string;
  pod: string;
  node: string;
  health: string;
  error: string;
  ok: boolean;
}

export interface QueryRow {
  dashboard: string;
  panel: string;
  refId: string;
  /** As written in the dashboard. */
  expr: string;
  /** As sent to Prometheus, variables substituted. */
  query: string;
  series: number;
  /** Contract labels present on at least one returned series. */
  contractLabels: string[];
  /** Labels the legend and grouping promise. */
  expectedLabels: string[];
  /** Expected labels absent from some series (or from all, for labels only MIG instances carry). */
  missingLabels: string[];
  /** Scenario in which the query returned data, when the healthy fleet gives none. */
  scenario?: ScenarioName;
  error?: string;
  ok: boolean;
}

export interface VariableRow {
  dashboard: string;
  variable: string;
  definition: string;
  values: number;
  error?: string;
  ok: boolean;
}

export interface SeedPanelRow {
  number: number;
  title: string;
  expr: string;
  series: number;
  contractLabels: string[];
  expectedLabels: string[];
  missingLabels: string[];
  error?: string;
  ok: boolean;
}

export interface SeedAlertRow {
  title: string;
  expr: string;
  alert: string;
  scenario?: ScenarioName;
  series: number;
  labels: string[];
  error?: string;
  ok: boolean;
}

export interface RecordingRow {
  record: string;
  series: number;
  /** Scenario in which it returned data, when the healthy fleet gives none. */
  scenario?: ScenarioName;
  ok: boolean;
}

export interface ContractRow {
  metric: string;
  source: string;
  /** Components that expose it (dashboards/metrics.ts). */
  exposedBy: string;
  /** The alerts and panels that read it, and go silent without it (dashboards/readers.ts). */
  readByAlerts: string[];
  readByPanels: string[];
  series: number;
  /** Contract labels on no stored series. */
  missing: string[];
  /** Stored labels the contract does not list (target labels aside). */
  extra: string[];
  ok: boolean;
}

export interface AlertSummary {
  alertname: string;
  state: string;
  labels: Record<string, string>;
}

export interface ScenarioRow {
  name: ScenarioName;
  description: string;
  target: string;
  expected: ExpectedAlert[];
  raised: AlertSummary[];
  missing: ExpectedAlert[];
  /** Alerts neither expected nor carried over from an earlier scenario. */
  unexpected: AlertSummary[];
  /**
   * Alerts of earlier scenarios still active (their windows still hold the bad
   * samples), and alerts this or an earlier scenario may also raise (SLO burns
   * that depend on how much healthy history Prometheus holds).
   */
  carriedOver: Array<AlertSummary & { from: ScenarioName }>;
  /** Expected alerts that were active before the scenario started (so it did not raise them). */
  activeBefore: AlertSummary[];
  raisedAfterMs?: number;
  /** After switching back to healthy; for `at-once` scenarios only. */
  clearedAfterMs?: number;
  cleared?: boolean;
  durationMs: number;
  skipped?: string;
  ok: boolean;
}

export interface RuleHealthRow {
  group: string;
  rule: string;
  health: string;
  error: string;
}

export interface VerificationReport {
  stack: string;
  environment: string;
  alertEvaluator: string;
  prometheusUrl: string;
  settings: {
    scrapeInterval: string;
    evaluationInterval: string;
    stackScrapeInterval: string;
    rateWindow: string;
    builtinVariables: Record<string, string>;
  };
  fleet: {
    shape: FleetShape;
    /** The stack's GPU pools as the fleet runs them: GPU model, MIG profile, nodes placed (below the pool's maximum). */
    pools: Array<{ name: string; gpu: string; migProfile?: string; nodes: number; maxNodes: number }>;
    /** Models served: the stack's own first. */
    models: string[];
    gpuNodes: number;
    migNodes: number;
    gpuEntities: number;
    slots: number;
    deployments: number;
    targets: number;
  };
  notes: string[];
  targets: TargetRow[];
  panels: QueryRow[];
  variables: VariableRow[];
  seedPanels: SeedPanelRow[];
  seedAlerts: SeedAlertRow[];
  recording: RecordingRow[];
  contract: ContractRow[];
  ruleHealth: RuleHealthRow[];
  scenarios: ScenarioRow[];
  /** Catalog alerts no scenario raises (informational). */
  uncoveredAlerts: string[];
  timings: { startupMs: number; warmupMs: number; queriesMs: number; healthyMs: number; scenariosMs: number; totalMs: number };
  failures: string[];
  ok: boolean;
}

// ---------------------------------------------------------------------------
// Stack config and Prometheus setup

/** A stack's config, read as synth reads it: `Pulumi.<stack>.yaml` under the mock runtime, then the program's own loader. */
export async function loadStackConfig(stack: string, root = projectRoot): Promise<StackConfig> {
  const project = (YAML.parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const { config, secretKeys } = readStackFile(join(root, `Pulumi.${stack}.yaml`));
  await startRecording({ project, stack, config, secretKeys, calls: offlineLookups });
  return loadConfig();
}

export interface PrometheusSetup {
  /** prometheus.yml as an object. */
  config: Record<string, unknown>;
  /** Rule files by relative path. */
  files: Record<string, string>;
  jobs: ScrapeJob[];
  groups: PrometheusRuleGroup[];
  pods: DiscoveredPod[];
}

const ruleFile = (group: PrometheusRuleGroup) => `rules/${group.name}.yaml`;

/**
 * The Prometheus configuration for a served fleet: the stack's scrape jobs with
 * static discovery and kube-state-metrics as a static job, the stack's rule
 * groups, everything every `verifyInterval`.
 */
export function prometheusSetup(config: StackConfig, served: ServedFleet): PrometheusSetup {
  const jobs = telemetryPlan(config).jobs;
  const pods = discoveredPods(served);
  const groups = alertingPlan(config).groups.map((g) => ({ ...g, interval: verifyInterval }));
  const scrapeConfigs = [...stackScrapeConfigs(config, pods, verifyInterval), servedKubeStateMetricsScrapeConfig(served, verifyInterval)];
  return {
    // A plain copy: shared objects would be written as YAML aliases.
    config: JSON.parse(
      JSON.stringify({ global: { scrape_interval: verifyInterval, evaluation_interval: verifyInterval }, rule_files: groups.map(ruleFile), scrape_configs: scrapeConfigs }),
    ) as Record<string, unknown>,
    files: Object.fromEntries(groups.map((g) => [ruleFile(g), YAML.stringify({ groups: [g] }, { aliasDuplicateObjects: false, lineWidth: 0 })])),
    jobs,
    groups,
    pods,
  };
}

// ---------------------------------------------------------------------------
// Query helpers

/** Labels only MIG instances carry; a query over GPUs has them on some series only. */
const migOnlyLabels = new Set(["mig_profile", "mig_instance"]);

/**
 * Labels a query's result must carry: those its legend names, and those of its
 * outermost `by (…)` grouping (without `le` when `histogram_quantile` consumes it).
 */
export function expectedLabels(expr: string, legend = ""): string[] {
  const labels = new Set([...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] as string));
  const grouping = /\bby\s*\(([^)]*)\)/.exec(expr);
  for (const label of (grouping?.[1] ?? "")
    .split(",")
    .map((l) => l.trim())
    .filter(Boolean))
    labels.add(label);
  if (/^\s*histogram_quantile\s*\(/.test(expr)) labels.delete("le");
  return [...labels].sort();
}

/**
 * Expected labels a query's result lacks. MIG labels are required on some
 * series only, and only of a fleet with MIG instances (a stack without a MIG
 * pool has none to carry them).
 */
function labelCheck(samples: readonly InstantSample[], expected: readonly string[], fleetHasMig: boolean): { contract: string[]; missing: string[] } {
  const present = (label: string) => samples.filter((s) => (s.metric[label] ?? "") !== "").length;
  const contract = contractLabels.filter((l) => present(l) > 0);
  const missing = expected.filter((l) => (migOnlyLabels.has(l) ? fleetHasMig && present(l) === 0 : present(l) < samples.length));
  return { contract: [...contract], missing };
}

async function safeQuery(prom: PrometheusServer, expr: string): Promise<{ samples: InstantSample[]; error?: string }> {
  try {
    return { samples: await prom.query(expr) };
  } catch (error) {
    return { samples: [], error: error instanceof Error ? error.message : String(error) };
  }
}

interface ActiveAlert extends AlertSummary {
  id: string;
}

const identity = (labels: Record<string, string>) =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== "alertstate" && k !== "__name__")
      .sort(([a], [b]) => a.localeCompare(b)),
  );

async function activeAlerts(prom: PrometheusServer): Promise<ActiveAlert[]> {
  const samples = await prom.query("ALERTS");
  return samples.map(({ metric }) => {
    const { __name__: _name, alertstate, ...labels } = metric;
    return { alertname: labels.alertname ?? "", state: alertstate ?? "", labels, id: identity(labels) };
  });
}

const matches = (expected: ExpectedAlert, alert: AlertSummary) =>
  alert.alertname === expected.alertname && Object.entries(expected.labels).every(([k, v]) => alert.labels[k] === v);

const summary = ({ alertname, state, labels }: AlertSummary): AlertSummary => ({ alertname, state, labels });

// ---------------------------------------------------------------------------
// Dashboards

interface DashboardJson {
  title?: string;
  panels?: PanelJson[];
  templating?: { list?: Array<{ name: string; type: string; allValue?: string; definition?: string; query?: unknown }> };
}

/** Every variable at All: its `allValue` (the dashboards use `.*`), and Grafana's built-ins. */
function variableValues(dashboard: DashboardJson): Record<string, string> {
  const values: Record<string, string> = { ...builtinVariables };
  for (const v of dashboard.templating?.list ?? []) if (v.type === "query") values[v.name] = v.allValue ?? ".*";
  return values;
}

// ---------------------------------------------------------------------------
// The run

export async function runVerification(config: StackConfig, options: RunOptions = {}): Promise<VerificationReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const budgetMs = options.budgetMs ?? 170_000;
  const scenarioTimeoutMs = options.scenarioTimeoutMs ?? 40_000;
  const healthyWindowMs = options.healthyWindowMs ?? 4_000;
  const order = options.scenarios ?? runOrder;
  const failures: string[] = [];
  const fail = (message: string) => {
    failures.push(message);
    log(`FAIL ${message}`);
  };

  const fleet = new Fleet({ settings: fleetSettings(config), shape: options.shape ?? {} });
  const fleetHasMig = fleet.gpuNodes.some((n) => n.pool.mig);
  const served = await serveFleet(fleet);
  let prom: PrometheusServer | undefined;
  try {
    const setup = prometheusSetup(config, served);
    prom = await startPrometheus({ config: setup.config, files: setup.files });
    const p = prom;
    const startupMs = Date.now() - started;
    log(`Prometheus ${p.url}: ${setup.jobs.length + 1} scrape jobs, ${setup.groups.length} rule groups, ${served.endpoints.length} fleet targets`);

    const { alerts } = alertingPlan(config);
    const catalogAlerts = new Set(alerts.map((a) => a.name));
    const recordingRules = setup.groups.flatMap((g) => g.rules.flatMap((r) => ("record" in r ? [r] : [])));
    const recordingNames = recordingRules.map((r) => r.record);

    // Expected targets: the pods each job's selector, namespaces and port pick (Kubernetes semantics).
    const expectedTargets = setup.jobs.flatMap((job) =>
      setup.pods
        .filter(
          (pod) =>
            (job.namespaces.length === 0 || job.namespaces.includes(pod.namespace)) &&
            pod.portName === job.port &&
            Object.entries(job.podSelector).every(([k, v]) => pod.labels[k] === v),
        )
        .map((pod) => ({ pool: String(scrapeConfig(job, monitoringNamespace).job_name), pod })),
    );

    // Warm-up: every target scraped and up, every recording rule with data.
    const warmStart = Date.now();
    const targetRows = async (): Promise<TargetRow[]> => {
      const active = await p.targets();
      const rows = expectedTargets.map(({ pool, pod }) => {
        const t =
          active.find((a) => a.scrapePool === pool && a.labels.pod === pod.name) ??
          active.find((a) => a.scrapePool === pool && a.discoveredLabels.__meta_kubernetes_pod_name === pod.name);
        return { job: t?.labels.job ?? pool, pod: pod.name, node: pod.nodeName, health: t?.health ?? "not a target", error: t?.lastError ?? "", ok: t?.health === "up" };
      });
      const ksm = active.filter((a) => a.labels.job === "kube-state-metrics");
      rows.push(...ksm.map((t) => ({ job: t.labels.job ?? "", pod: t.labels.pod ?? "", node: "", health: t.health, error: t.lastError, ok: t.health === "up" })));
      const unexpected = active.filter(
        (a) =>
          a.labels.job !== "kube-state-metrics" &&
          !expectedTargets.some((e) => e.pool === a.scrapePool && (a.labels.pod === e.pod.name || a.discoveredLabels.__meta_kubernetes_pod_name === e.pod.name)),
      );
      rows.push(
        ...unexpected.map((t) => ({
          job: t.labels.job ?? t.scrapePool,
          pod: t.labels.pod ?? "",
          node: t.labels.node ?? "",
          health: t.health,
          error: "scraped but not selected by its job's selector",
          ok: false,
        })),
      );
      return rows;
    };
    // A recorded series set is complete once it has as many series as its expression evaluated now (every target scraped twice).
    const seriesCount = async (expr: string) => Number((await safeQuery(p, `count(${expr})`)).samples[0]?.value[1] ?? 0);
    const recordedComplete = async (rule: { record: string; expr: string }) => {
      const [recorded, live] = await Promise.all([seriesCount(rule.record), seriesCount(rule.expr)]);
      return recorded > 0 && recorded === live;
    };
    let targets: TargetRow[] = [];
    try {
      await p.waitFor(
        async () => {
          targets = await targetRows();
          if (!(targets.length > 0 && targets.every((t) => t.ok))) return false;
          return (await Promise.all(recordingRules.map(recordedComplete))).every(Boolean);
        },
        "every target up and every recording rule with all its series",
        45_000,
      );
    } catch (error) {
      log(`warm-up: ${error instanceof Error ? error.message : String(error)}`);
    }
    targets = await targetRows();
    for (const t of targets.filter((r) => !r.ok)) fail(`target ${t.job} ${t.pod}: ${t.health} ${t.error}`);
    const warmupMs = Date.now() - warmStart;
    log(`warm-up ${(warmupMs / 1000).toFixed(1)} s`);

    // Healthy-fleet queries: dashboards, variables, seed panels, recording rules, the contract.
    const queriesStart = Date.now();
    const dashboards = Object.entries(dashboardsFor(config)) as Array<[string, DashboardJson]>;
    const panels: QueryRow[] = [];
    const variables: VariableRow[] = [];
    for (const [key, dashboard] of dashboards) {
      const values = variableValues(dashboard);
      const title = dashboard.title ?? key;
      for (const panel of panelsOf(dashboard)) {
        for (const target of targetsOf(panel)) {
          if (!target.expr) continue;
          const query = substituteVariables(target.expr, values);
          // The side of a `coarseAtAll` switch that serves the query names its labels.
          const expected = expectedLabels(servedOperands(query).join(" or "), target.legendFormat);
          panels.push({
            dashboard: title,
            panel: panel.title ?? "",
            refId: target.refId ?? "A",
            expr: target.expr,
            query,
            series: 0,
            contractLabels: [],
            expectedLabels: expected,
            missingLabels: [],
            ok: false,
          });
        }
      }
      for (const v of dashboard.templating?.list ?? []) {
        if (v.type !== "query") continue;
        const definition = v.definition ?? String(v.query ?? "");
        const m = /^label_values\((.*),\s*(\w+)\)$/.exec(definition);
        if (!m) {
          variables.push({ dashboard: title, variable: v.name, definition, values: 0, error: "not a label_values() query", ok: false });
          continue;
        }
        const { samples, error } = await safeQuery(p, `count by (${m[2]}) (${substituteVariables(m[1] as string, values)})`);
        const count = samples.filter((s) => (s.metric[m[2] as string] ?? "") !== "").length;
        variables.push({ dashboard: title, variable: v.name, definition, values: count, ...(error ? { error } : {}), ok: count > 0 });
      }
    }
    const evaluatePanels = async (rows: QueryRow[], scenario?: ScenarioName) => {
      await Promise.all(
        rows.map(async (row) => {
          const { samples, error } = await safeQuery(p, row.query);
          if (error) row.error = error;
          if (samples.length === 0) return;
          const { contract, missing } = labelCheck(samples, row.expectedLabels, fleetHasMig);
          Object.assign(row, { series: samples.length, contractLabels: contract, missingLabels: missing, ok: missing.length === 0 && !error });
          delete row.error;
          if (scenario) row.scenario = scenario;
        }),
      );
    };
    await evaluatePanels(panels);

    const seedPanelRows: SeedPanelRow[] = [];
    for (const seed of seedPanels) {
      const { samples, error } = await safeQuery(p, seed.expr);
      const expected = expectedLabels(seed.expr);
      const { contract, missing } = labelCheck(samples, expected, fleetHasMig);
      seedPanelRows.push({
        number: seed.number,
        title: seed.title,
        expr: seed.expr,
        series: samples.length,
        contractLabels: contract,
        expectedLabels: expected,
        missingLabels: missing,
        ...(error ? { error } : {}),
        ok: samples.length > 0 && missing.length === 0 && !error,
      });
    }

    const recording: RecordingRow[] = [];
    for (const record of recordingNames) {
      const { samples } = await safeQuery(p, record);
      recording.push({ record, series: samples.length, ok: samples.length > 0 });
    }

    const metricReaders = contractMetricReaders(alertContext(config));
    const contract: ContractRow[] = [];
    const targetLabels = new Set(["__name__", "job", "instance", "endpoint", "namespace", "pod", "container"]);
    const migNodes = new Set(fleet.gpuNodes.filter((n) => n.pool.mig).map((n) => n.name));
    for (const [name, m] of Object.entries(metrics) as Array<[MetricName, (typeof metrics)[MetricName]]>) {
      const stored: InstantSample[] = [];
      for (const series of seriesNames(name)) stored.push(...(await safeQuery(p, `{__name__="${series}"}`)).samples);
      const labels = new Set(stored.flatMap((s) => Object.keys(s.metric)));
      const declared = new Set<string>(m.labels);
      if (m.type === "histogram") declared.add("le");
      // MIG labels are empty on whole GPUs: required only of a metric that has series from MIG nodes.
      const onMig = stored.some((s) => migNodes.has(s.metric.node ?? ""));
      const missing = [...declared].filter((l) => l !== "le" && !labels.has(l) && !(migOnlyLabels.has(l) && !onMig));
      // What the stack's relabeling shapes (DCGM, infermesh) must match the contract exactly; other exporters' own labels are reported only.
      const extra = [...labels].filter((l) => !declared.has(l) && !targetLabels.has(l)).sort();
      const shaped = m.source === "dcgm" || m.source === "infermesh";
      const readers = metricReaders[name];
      contract.push({
        metric: name,
        source: m.source,
        exposedBy: m.exposedBy.join(" or "),
        readByAlerts: readers.alerts,
        readByPanels: readers.panels,
        series: stored.length,
        missing,
        extra,
        ok: stored.length > 0 && missing.length === 0 && (!shaped || extra.length === 0),
      });
    }
    const queriesMs = Date.now() - queriesStart;

    // The healthy fleet: no alert at all, watched over a window after two evaluation rounds of grace.
    const healthyStart = Date.now();
    await sleep(2_000);
    const healthyAlerts = new Map<string, ActiveAlert>();
    while (Date.now() - healthyStart < 2_000 + healthyWindowMs) {
      for (const a of await activeAlerts(p)) healthyAlerts.set(a.id, a);
      await sleep(500);
    }
    const healthyRow: ScenarioRow = {
      name: "healthy",
      description: scenarios.healthy.description,
      target: fleet.scenarioTarget("healthy"),
      expected: [],
      raised: [],
      missing: [],
      unexpected: [...healthyAlerts.values()].map(summary),
      carriedOver: [],
      activeBefore: [],
      durationMs: Date.now() - healthyStart,
      ok: healthyAlerts.size === 0,
    };
    const healthyMs = Date.now() - healthyStart;

    // Scenarios, one after another in the same Prometheus.
    const scenarioRows: ScenarioRow[] = [healthyRow];
    const seedAlertRows: SeedAlertRow[] = [];
    const seen = new Map<string, ScenarioName>();
    const absenceChecks = contractAbsenceChecks(alertContext(config));
    const tolerated: Array<ExpectedAlert & { from: ScenarioName }> = [];
    // The absence alert names what reads the missing metric: expected exactly as the stack's checks say.
    const withReaders = (e: ExpectedAlert): ExpectedAlert => {
      const check = e.alertname === "InfermeshContractMetricAbsent" ? absenceChecks.find((c) => c.metric === e.labels.metric) : undefined;
      if (!check) return e;
      return {
        ...e,
        labels: { ...e.labels, exposed_by: check.exposedBy, read_by_alerts: check.readers.alerts.join(", ") || "none", read_by_panels: check.readers.panels.join(", ") || "none" },
      };
    };
    const scenariosStart = Date.now();
    for (const name of order) {
      if (name === "healthy") continue;
      const spec = scenarios[name];
      const base = {
        name,
        description: spec.description,
        target: fleet.scenarioTarget(name),
        raised: [],
        missing: [],
        unexpected: [],
        carriedOver: [],
        activeBefore: [],
        durationMs: 0,
      };
      const notInCatalog = spec.alerts.filter((a) => !catalogAlerts.has(a));
      const unsupported = fleet.unsupported(name);
      if (notInCatalog.length > 0 || unsupported) {
        const skipped = unsupported ?? `the stack's alert catalog has no ${notInCatalog.join(", ")}`;
        scenarioRows.push({ ...base, expected: [], skipped, ok: true });
        log(`${name}: skipped (${skipped})`);
        continue;
      }
      const remaining = budgetMs - (Date.now() - started);
      if (remaining < 5_000) {
        scenarioRows.push({ ...base, expected: fleet.expectedAlerts(name), skipped: "not run: the run's time budget is spent", ok: false });
        continue;
      }
      tolerated.push(...fleet.mayAlsoRaise(name).map((e) => ({ ...e, from: name })));
      const row = await playScenario(p, fleet, name, seen, Math.min(scenarioTimeoutMs, remaining - 3_000), { tolerated, expect: withReaders });
      scenarioRows.push(row);
      log(`${name}: ${row.ok ? "ok" : "FAILED"} (${(row.durationMs / 1000).toFixed(1)} s)`);

      // While the scenario's alerts are raised, the seed's alert expressions it should trigger, and any panel or rule still without data.
      fleet.setScenario(name);
      // Each seed expression once, in the first scenario that raises its alert.
      for (const seed of seedAlerts.filter((s) => spec.alerts.includes(s.alert) && !seedAlertRows.some((r) => r.title === s.title))) {
        let result = await safeQuery(p, seed.expr);
        const deadline = Date.now() + 15_000;
        while (result.samples.length === 0 && !result.error && Date.now() < deadline) {
          await sleep(500);
          result = await safeQuery(p, seed.expr);
        }
        const labels = [...new Set(result.samples.flatMap((s) => Object.keys(s.metric)))].sort();
        seedAlertRows.push({
          title: seed.title,
          expr: seed.expr,
          alert: seed.alert,
          scenario: name,
          series: result.samples.length,
          labels,
          ...(result.error ? { error: result.error } : {}),
          ok: result.samples.length > 0 && !result.error,
        });
      }
      await evaluatePanels(
        panels.filter((r) => r.series === 0),
        name,
      );
      for (const r of recording.filter((x) => x.series === 0)) {
        const { samples } = await safeQuery(p, r.record);
        if (samples.length > 0) Object.assign(r, { series: samples.length, scenario: name, ok: true });
      }
      fleet.setScenario("healthy");
      if (spec.clears === "at-once" && row.ok) {
        const clearStart = Date.now();
        let cleared = false;
        const reported = new Set(row.unexpected.map((a) => identity(a.labels)));
        while (Date.now() - clearStart < 15_000) {
          const active = await activeAlerts(p);
          for (const a of active) {
            if (seen.has(a.id) || reported.has(a.id) || tolerated.some((t) => matches(t, a))) continue;
            reported.add(a.id);
            row.unexpected.push(summary(a));
          }
          if (!active.some((a) => row.expected.some((e) => matches(e, a)))) {
            cleared = true;
            break;
          }
          await sleep(500);
        }
        row.cleared = cleared;
        row.clearedAfterMs = Date.now() - clearStart;
        if (!cleared || row.unexpected.length > 0) row.ok = false;
      }
    }
    fleet.setScenario("healthy");
    const scenariosMs = Date.now() - scenariosStart;

    for (const seed of seedAlerts) {
      if (!seedAlertRows.some((r) => r.title === seed.title)) {
        seedAlertRows.push({ title: seed.title, expr: seed.expr, alert: seed.alert, series: 0, labels: [], error: `no scenario that ran raises ${seed.alert}`, ok: false });
      }
    }

    const ruleHealth: RuleHealthRow[] = (await p.rules()).flatMap((g) =>
      g.rules.filter((r) => r.health !== "ok").map((r) => ({ group: g.name, rule: r.name, health: r.health, error: r.lastError ?? "" })),
    );

    const raisedByScenarios = new Set(order.flatMap((n) => (scenarioRows.some((r) => r.name === n && !r.skipped) ? scenarios[n].alerts : [])));
    const uncoveredAlerts = [...catalogAlerts].filter((a) => !raisedByScenarios.has(a)).sort();

    for (const r of panels.filter((x) => !x.ok))
      fail(`panel ${r.dashboard} / ${r.panel} ${r.refId}: ${r.error ?? (r.series === 0 ? "no data in any scenario" : `missing labels ${r.missingLabels.join(", ")}`)}: ${r.query}`);
    for (const r of variables.filter((x) => !x.ok)) fail(`variable ${r.dashboard} $${r.variable}: ${r.error ?? "no values"} (${r.definition})`);
    for (const r of seedPanelRows.filter((x) => !x.ok))
      fail(`seed panel ${r.number} ${r.title}: ${r.error ?? (r.series === 0 ? "no data" : `missing labels ${r.missingLabels.join(", ")}`)}: ${r.expr}`);
    for (const r of seedAlertRows.filter((x) => !x.ok)) fail(`seed alert ${r.title}${r.scenario ? ` in ${r.scenario}` : ""}: ${r.error ?? "no data"}: ${r.expr}`);
    for (const r of recording.filter((x) => !x.ok)) fail(`recording rule ${r.record}: no data in any scenario`);
    for (const r of contract.filter((x) => !x.ok)) {
      fail(
        `contract metric ${r.metric}: ${r.series === 0 ? "not stored" : [r.missing.length ? `missing labels ${r.missing.join(", ")}` : "", r.extra.length ? `labels outside the contract ${r.extra.join(", ")}` : ""].filter(Boolean).join("; ")}`,
      );
    }
    for (const r of ruleHealth) fail(`rule ${r.group}/${r.rule}: ${r.health} ${r.error}`);
    for (const r of scenarioRows.filter((x) => !x.ok)) fail(`scenario ${r.name}: ${scenarioProblem(r)}`);

    return {
      stack: config.stack,
      environment: config.environment,
      alertEvaluator: config.alerting.evaluator,
      prometheusUrl: p.url,
      settings: {
        scrapeInterval: verifyInterval,
        evaluationInterval: verifyInterval,
        stackScrapeInterval: config.telemetry.scrapeInterval,
        rateWindow: rateWindow(config.telemetry.scrapeIntervalSeconds),
        builtinVariables: { ...builtinVariables },
      },
      fleet: {
        shape: { ...defaultShape, ...options.shape },
        pools: fleet.pools.map((p) => ({
          name: p.name,
          gpu: p.gpu,
          ...(p.mig ? { migProfile: p.mig.profile } : {}),
          nodes: fleet.gpuNodes.filter((n) => n.pool === p).length,
          maxNodes: p.maxNodes,
        })),
        models: fleet.models.map((m) => m.name),
        gpuNodes: fleet.gpuNodes.length,
        migNodes: fleet.gpuNodes.filter((n) => n.pool.mig).length,
        gpuEntities: fleet.gpuNodes.reduce((sum, n) => sum + n.entities.length, 0),
        slots: fleet.slots.length,
        deployments: fleet.deployments.length,
        targets: served.endpoints.length,
      },
      notes: [
        `Scrapes and rule evaluations run every ${verifyInterval} (the stack scrapes every ${config.telemetry.scrapeInterval}); expressions, recorded rate windows (${rateWindow(config.telemetry.scrapeIntervalSeconds)}) and thresholds are the stack's own.`,
        "An alert counts as raised once pending or firing (the ALERTS series); its `for` duration is checked by the promtool rule tests (test/alerts.promtool.test.ts), not waited out here.",
        "SLO windows (5 minutes to 30 days) hold only the minutes this Prometheus has run: the SLO scenarios deploy a model whose whole history is the burn, so every window sees its error ratio, and check the series, labels, budgets and page/ticket thresholds; when each window's alert fires and resolves is proven by promtool (verify/sloCases.ts). Scenarios that spike an existing model may also raise its SLO alerts, depending on how much healthy history the windows hold.",
        `Panel queries run as instant queries with every filter variable at All (its allValue) and ${Object.entries(builtinVariables)
          .map(([k, v]) => `$${k}=${v}`)
          .join(", ")}.`,
        `Alerts are evaluated from the stack's Prometheus rule groups (the stack's evaluator is ${config.alerting.evaluator}; Grafana-managed rules use the same expressions).`,
        "Pod discovery is replaced by static targets carrying the labels Kubernetes pod discovery (with node metadata) gives; kube-state-metrics is a static job, as kube-prometheus-stack scrapes it.",
      ],
      targets,
      panels,
      variables,
      seedPanels: seedPanelRows,
      seedAlerts: seedAlertRows,
      recording,
      contract,
      ruleHealth,
      scenarios: scenarioRows,
      uncoveredAlerts,
      timings: { startupMs, warmupMs, queriesMs, healthyMs, scenariosMs, totalMs: Date.now() - started },
      failures,
      ok: failures.length === 0,
    };
  } finally {
    await prom?.stop();
    await served.stop();
  }
}

function scenarioProblem(r: ScenarioRow): string {
  const parts: string[] = [];
  if (r.skipped) parts.push(r.skipped);
  if (r.missing.length > 0) parts.push(`not raised: ${r.missing.map(formatExpected).join(", ")}`);
  if (r.unexpected.length > 0) parts.push(`unexpected: ${r.unexpected.map(formatAlert).join(", ")}`);
  if (r.activeBefore.length > 0) parts.push(`already active before the scenario: ${r.activeBefore.map(formatAlert).join(", ")}`);
  if (r.cleared === false) parts.push("still active 15 s after the fleet recovered");
  return parts.join("; ") || "failed";
}

/**
 * Switches the fleet to `name` and waits (bounded) until its alerts are
 * raised, watching for any other. `tolerated` alerts (this or an earlier
 * scenario may also raise them) count as carried over, not as unexpected.
 */
async function playScenario(
  prom: PrometheusServer,
  fleet: Fleet,
  name: ScenarioName,
  seen: Map<string, ScenarioName>,
  timeoutMs: number,
  opts: { tolerated: ReadonlyArray<ExpectedAlert & { from: ScenarioName }>; expect: (e: ExpectedAlert) => ExpectedAlert },
): Promise<ScenarioRow> {
  const spec = scenarios[name];
  const expected = fleet.expectedAlerts(name).map(opts.expect);
  const before = await activeAlerts(prom);
  const activeBefore = before.filter((a) => expected.some((e) => matches(e, a))).map(summary);
  const start = Date.now();
  fleet.setScenario(name);
  const raised = new Map<string, ActiveAlert>();
  const unexpected = new Map<string, ActiveAlert>();
  const carried = new Map<string, ActiveAlert & { from: ScenarioName }>();
  const settleMs = 1_000;
  let raisedAt: number | undefined;
  const mine = new Set<string>();
  while (Date.now() - start < timeoutMs) {
    for (const a of await activeAlerts(prom)) {
      mine.add(a.id);
      if (expected.some((e) => matches(e, a))) {
        const previous = raised.get(a.id);
        if (!previous || a.state === "firing") raised.set(a.id, a);
      } else if (seen.has(a.id)) carried.set(a.id, { ...a, from: seen.get(a.id) as ScenarioName });
      else {
        const allowed = opts.tolerated.find((t) => matches(t, a));
        if (allowed) carried.set(a.id, { ...a, from: allowed.from });
        else unexpected.set(a.id, a);
      }
    }
    if (raisedAt === undefined && expected.every((e) => [...raised.values()].some((a) => matches(e, a)))) raisedAt = Date.now();
    if (raisedAt !== undefined && Date.now() - raisedAt >= settleMs) break;
    await sleep(500);
  }
  for (const id of mine) if (!seen.has(id)) seen.set(id, name);
  const missing = expected.filter((e) => ![...raised.values()].some((a) => matches(e, a)));
  return {
    name,
    description: spec.description,
    target: fleet.scenarioTarget(name),
    expected,
    raised: [...raised.values()].map(summary),
    missing,
    unexpected: [...unexpected.values()].map(summary),
    carriedOver: [...carried.values()].map((a) => ({ ...summary(a), from: a.from })),
    activeBefore,
    ...(raisedAt !== undefined ? { raisedAfterMs: raisedAt - start } : {}),
    durationMs: Date.now() - start,
    ok: missing.length === 0 && unexpected.size === 0 && activeBefore.length === 0,
  };
}

// ---------------------------------------------------------------------------
// Formatting

const shownAlertLabels = ["model", "node", "gpu_uuid", "mig_profile", "pod", "namespace"];

function formatLabels(labels: Record<string, string>, keys: readonly string[] = shownAlertLabels): string {
  const shown = keys.filter((k) => labels[k] !== undefined && labels[k] !== "").map((k) => `${k}=${labels[k]}`);
  return shown.length > 0 ? `{${shown.join(", ")}}` : "";
}

function formatAlert(a: AlertSummary): string {
  return `${a.alertname}${formatLabels(a.labels)} ${a.state}`;
}

function formatExpected(e: ExpectedAlert): string {
  return `${e.alertname}${formatLabels(e.labels, Object.keys(e.labels))}`;
}

/** A plain-text table, every column left-aligned; cells are clipped to `maxWidth`. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, maxWidth = 72): string {
  return textTable(headers, rows, { align: headers.map(() => "left"), maxWidth });
}

const mark = (ok: boolean) => (ok ? "ok" : "FAIL");
const seconds = (ms: number | undefined) => (ms === undefined ? "" : `${(ms / 1000).toFixed(1)} s`);

export function formatReport(r: VerificationReport): string {
  const out: string[] = [];
  const section = (title: string, body: string) => out.push("", title, body);
  out.push(`infermesh verification: stack ${r.stack} (environment ${r.environment}, alerts evaluated by ${r.alertEvaluator})`);
  out.push(
    `fleet: ${r.fleet.gpuNodes} GPU nodes (${r.fleet.pools.map((p) => `${p.name}: ${p.nodes} of max ${p.maxNodes} ${p.gpu}${p.migProfile ? ` as ${p.migProfile}` : ""}`).join(", ")}; ${r.fleet.migNodes} MIG) = ${r.fleet.gpuEntities} GPUs or MIG instances, models ${r.fleet.models.join(", ")}, ${r.fleet.slots} serving slots, ${r.fleet.deployments} deployments, ${r.fleet.shape.routers} routers, ${r.fleet.targets} targets`,
  );
  for (const note of r.notes) out.push(`- ${note}`);

  section(
    `Targets (${r.targets.filter((t) => t.ok).length}/${r.targets.length} up)`,
    table(
      ["job", "pod", "node", "health", "result"],
      r.targets.map((t) => [t.job, t.pod, t.node, t.health + (t.error ? `: ${t.error}` : ""), mark(t.ok)]),
    ),
  );
  section(
    `Dashboard panel queries (${r.panels.filter((q) => q.ok).length}/${r.panels.length} ok)`,
    table(
      ["dashboard", "panel", "ref", "series", "contract labels present", "result"],
      r.panels.map((q) => [
        q.dashboard.replace(/^infermesh · /, ""),
        q.panel,
        q.refId,
        String(q.series),
        q.contractLabels.join(",") || "-",
        q.ok ? (q.scenario ? `ok (in ${q.scenario})` : "ok") : `FAIL ${q.error ?? (q.series === 0 ? "no data" : `missing ${q.missingLabels.join(",")}`)}`,
      ]),
      48,
    ),
  );
  section(
    `Dashboard variables at All (${r.variables.filter((v) => v.ok).length}/${r.variables.length} ok)`,
    table(
      ["dashboard", "variable", "values", "result"],
      r.variables.map((v) => [v.dashboard.replace(/^infermesh · /, ""), `$${v.variable}`, String(v.values), v.ok ? "ok" : `FAIL ${v.error ?? "no values"}`]),
    ),
  );
  section(
    `Seed panel queries, verbatim (${r.seedPanels.filter((q) => q.ok).length}/${r.seedPanels.length} ok)`,
    table(
      ["#", "title", "series", "contract labels present", "result"],
      r.seedPanels.map((q) => [
        String(q.number),
        q.title,
        String(q.series),
        q.contractLabels.join(",") || "-",
        q.ok ? "ok" : `FAIL ${q.error ?? (q.series === 0 ? "no data" : `missing ${q.missingLabels.join(",")}`)}`,
      ]),
    ),
  );
  section(
    `Seed alert expressions, verbatim (${r.seedAlerts.filter((q) => q.ok).length}/${r.seedAlerts.length} ok)`,
    table(
      ["title", "scenario", "series", "result", "expression"],
      r.seedAlerts.map((q) => [q.title, q.scenario ?? "-", String(q.series), q.ok ? "ok" : `FAIL ${q.error ?? "no data"}`, q.expr]),
      80,
    ),
  );
  section(
    `Recording rules (${r.recording.filter((x) => x.ok).length}/${r.recording.length} with data)`,
    table(
      ["record", "series", "result"],
      r.recording.map((x) => [x.record, String(x.series), x.ok ? (x.scenario ? `ok (in ${x.scenario})` : "ok") : "FAIL no data"]),
    ),
  );
  section(
    `Metric contract as stored (${r.contract.filter((x) => x.ok).length}/${r.contract.length} ok)`,
    table(
      ["metric", "source", "series", "missing contract labels", "other labels", "result"],
      r.contract.map((x) => [x.metric, x.source, String(x.series), x.missing.join(",") || "-", x.extra.join(",") || "-", mark(x.ok)]),
      48,
    ),
  );
  section(
    "What each contract metric silences when no target exposes it (InfermeshContractMetricAbsent names the same)",
    table(
      ["metric", "exposed by", "alerts that read it", "panels that read it"],
      r.contract.map((x) => [x.metric, x.exposedBy, x.readByAlerts.join(", ") || "none", x.readByPanels.join(", ") || "none"]),
      160,
    ),
  );
  if (r.ruleHealth.length > 0)
    section(
      "Rules with evaluation errors",
      table(
        ["group", "rule", "health", "error"],
        r.ruleHealth.map((x) => [x.group, x.rule, x.health, x.error]),
      ),
    );
  section(
    `Scenarios (${r.scenarios.filter((s) => s.ok).length}/${r.scenarios.length} ok)`,
    table(
      ["scenario", "expected alerts", "raised", "after", "cleared", "carried over", "result"],
      r.scenarios.map((s) => [
        s.name,
        [...new Set(s.expected.map((e) => e.alertname))].join(", ") || "none",
        [...new Set(s.raised.map((a) => `${a.alertname} ${a.state}`))].join(", ") || "-",
        seconds(s.raisedAfterMs),
        s.cleared === undefined ? "" : s.cleared ? seconds(s.clearedAfterMs) : "no",
        s.carriedOver.map((a) => `${a.alertname} (${a.from})`).join(", ") || "-",
        s.skipped && s.ok ? `skipped: ${s.skipped}` : s.ok ? "ok" : `FAIL ${scenarioProblem(s)}`,
      ]),
      64,
    ),
  );
  section(
    "Scenario targets",
    table(
      ["scenario", "hits", "what goes wrong"],
      r.scenarios.map((s) => [s.name, s.target, s.description]),
      90,
    ),
  );
  if (r.uncoveredAlerts.length > 0) out.push("", `Catalog alerts no scenario raises: ${r.uncoveredAlerts.join(", ")}`);
  const t = r.timings;
  out.push(
    "",
    `Timings: startup ${seconds(t.startupMs)}, warm-up ${seconds(t.warmupMs)}, queries ${seconds(t.queriesMs)}, healthy watch ${seconds(t.healthyMs)}, scenarios ${seconds(t.scenariosMs)}, total ${seconds(t.totalMs)}`,
  );
  if (r.failures.length > 0) {
    out.push("", `FAILED: ${r.failures.length} problem(s)`);
    for (const f of r.failures) out.push(`- ${f}`);
  } else out.push("", "PASSED");
  return out.join("\n");
}
