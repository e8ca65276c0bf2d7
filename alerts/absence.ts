/**
 * Alerts that cannot go silently dead: an alert on a metric nobody exposes
 * never fires, and nothing says so. `InfermeshContractMetricAbsent` fires for
 * each contract metric that no target exposes while the jobs that should
 * expose it are being scraped, naming the metric and the alerts and panels
 * that read it (alerts/readers.ts). The latency SLO's buckets are checked
 * too: a histogram with other bounds would leave the latency SLI empty.
 */
import { metrics, type Exposer, type MetricName, type MetricSource } from "../monitoring/metrics";
import type { MetricReaders } from "./readers";
import { leMatcher } from "../monitoring/slo";
import { podMonitorJob, scrapeJobNames } from "../domain/naming";

export interface AbsenceCheck {
  /** What the alert's `metric` label says. */
  metric: string;
  /** Selector whose emptiness is the problem. */
  selector: string;
  /** A labelless vector present when the metric should be there: its exporters are being scraped. */
  gate: string;
  exposedBy: string;
  readers: MetricReaders;
}

/**
 * When a source's metrics are due: some target of its jobs answers. Pods of
 * infermesh are not told apart by component here, so a component missing from
 * `telemetry.infermesh.components` (never scraped) is caught too.
 */
const gates: Record<Exclude<MetricSource, "prometheus">, string> = {
  infermesh: `count(up{job=~"${podMonitorJob(scrapeJobNames.infermesh(".+"))}"} == 1) > 0`,
  dcgm: `count(up{job="${podMonitorJob(scrapeJobNames.dcgm)}"} == 1) > 0`,
  "kube-state-metrics": 'count(up{job="kube-state-metrics"} == 1) > 0',
};
/** Fields only whole GPUs report are due when the fleet has a whole GPU. */
const wholeGpuGate = 'count(DCGM_FI_DEV_FB_TOTAL{mig_profile=""}) > 0';

const exposerText = (exposers: readonly Exposer[]) => exposers.join(" or ");

/** One check per contract metric that a scraped exporter serves, and one per latency bucket the SLO reads. */
export function absenceChecks(readers: Readonly<Record<MetricName, MetricReaders>>, sloBuckets: ReadonlyArray<{ boundMs: number; readers: MetricReaders }>): AbsenceCheck[] {
  const checks: AbsenceCheck[] = [];
  for (const name of Object.keys(metrics) as MetricName[]) {
    const m = metrics[name];
    if (m.source === "prometheus") continue;
    const series = m.type === "histogram" ? `${name}_count` : name;
    const wholeOnly = "wholeGpusOnly" in m && m.wholeGpusOnly === true;
    checks.push({ metric: name, selector: series, gate: wholeOnly ? wholeGpuGate : gates[m.source], exposedBy: exposerText(m.exposedBy), readers: readers[name] });
  }
  for (const { boundMs, readers: r } of sloBuckets) {
    checks.push({
      metric: `infermesh_inference_latency_bucket{le="${boundMs}"}`,
      selector: `infermesh_inference_latency_bucket{${leMatcher(boundMs)}}`,
      gate: gates.infermesh,
      exposedBy: exposerText(metrics.infermesh_inference_latency.exposedBy),
      readers: r,
    });
  }
  return checks;
}

const listOrNone = (names: readonly string[]) => (names.length === 0 ? "none" : names.join(", "));
const setLabel = (expr: string, label: string, value: string) => `label_replace(${expr}, "${label}", ${JSON.stringify(value.replace(/\$/g, "$$$$"))}, "", "")`;

/** The alert's expression: one term per check, each labelled with what is missing and what reads it. */
export function absenceExpr(checks: readonly AbsenceCheck[]): string {
  return checks
    .map((c) => {
      let term = `(${c.gate}) unless on () count(${c.selector})`;
      term = setLabel(term, "metric", c.metric);
      term = setLabel(term, "exposed_by", c.exposedBy);
      term = setLabel(term, "read_by_alerts", listOrNone(c.readers.alerts));
      term = setLabel(term, "read_by_panels", listOrNone(c.readers.panels));
      return term;
    })
    .join(" or ");
}
