/**
 * What the telemetry pipeline collects and scrapes, derived from config
 * alone: what Telemetry deploys and what synth and verify render. Pure.
 */
import type { StackConfig } from "../config";
import { monitoringNamespace } from "../domain/naming";
import { type CounterField, contractDcgmFields } from "./dcgmCounters";
import { dcgmAppName } from "./dcgmExporter.values";
import { type ScrapeJob, dcgmScrapeJob, infermeshScrapeJobs } from "./scrapeJobs";

/** What the telemetry pipeline collects and scrapes, derived from config alone (also what synth renders). */
export function telemetryPlan(config: Pick<StackConfig, "telemetry">): { jobs: ScrapeJob[]; counterFields: CounterField[] } {
  return {
    jobs: [dcgmScrapeJob(config.telemetry, monitoringNamespace, dcgmAppName), ...infermeshScrapeJobs(config.telemetry)],
    counterFields: contractDcgmFields(),
  };
}
