/** dcgm-exporter's counters file, generated from the metric contract. Pure. */
import { metrics, type MetricName } from "../monitoring/metrics";

export interface CounterField {
  name: MetricName;
  type: "gauge" | "counter";
  help: string;
}

/** Every DCGM field of the metric contract, in contract order. */
export function contractDcgmFields(): CounterField[] {
  return (Object.entries(metrics) as [MetricName, (typeof metrics)[MetricName]][]).flatMap(([name, m]) => ("dcgmType" in m ? [{ name, type: m.dcgmType, help: m.help }] : []));
}

/**
 * The CSV dcgm-exporter reads (`DCGM FIELD, Prometheus metric type, help`).
 * It replaces the exporter's default list entirely, so it must be complete;
 * commas in help text would add fields, so they become semicolons.
 */
export function dcgmCountersCsv(fields: readonly CounterField[]): string {
  return [
    "# dcgm-exporter counters generated from the infermesh metric contract (monitoring/metrics.ts):",
    "# every field a dashboard panel, alert or recording rule reads.",
    "# Format: DCGM FIELD, Prometheus metric type, help message",
    ...fields.map((f) => `${f.name}, ${f.type}, ${f.help.replace(/,/g, ";")}`),
    "",
  ].join("\n");
}
