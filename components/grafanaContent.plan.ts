/**
 * The stack's Grafana folder and dashboards, derived from config alone: what
 * GrafanaContent deploys and what synth and verify render. Pure.
 */
import type { StackConfig } from "../config";
import { dashboardKeys } from "../dashboards/context";
import { buildDashboards } from "../dashboards/index";
import { dashboardSchemaVersion } from "../dashboards/schemaVersion";
import { dataSourceUid, grafanaUid } from "../domain/naming";

/** What the stack's dashboards are derived from. */
export type DashboardInputs = Pick<StackConfig, "stack" | "environment" | "alerting" | "models" | "capacity" | "slo" | "telemetry">;

/** The environment's folder: its uid and title. */
export function folderFor(config: Pick<StackConfig, "stack" | "environment">) {
  return { uid: grafanaUid(config.stack, "folder"), title: `infermesh · ${config.stack} (${config.environment})` };
}

/**
 * The dashboards as Grafana imports them: the `datasource` variable preselects
 * this stack's data source, so they show data without a click, and the schema
 * version is one every targeted Grafana accepts (dashboards/schemaVersion.ts).
 */
export function dashboardsFor(config: DashboardInputs): Record<string, object> {
  const built = buildDashboards({
    stack: config.stack,
    environment: config.environment,
    scrapeIntervalSeconds: config.telemetry.scrapeIntervalSeconds,
    thresholds: config.alerting.thresholds,
    models: config.models,
    idleWindow: config.capacity.idleWindow,
    slo: config.slo,
    runbookBaseUrl: config.alerting.runbookBaseUrl,
  });
  const source = { text: `infermesh-${config.stack}`, value: dataSourceUid(config.stack) };
  return Object.fromEntries(
    dashboardKeys.map((key) => {
      const dashboard = JSON.parse(JSON.stringify(built[key])) as { schemaVersion: number; templating?: { list?: Array<Record<string, unknown>> } };
      for (const variable of dashboard.templating?.list ?? []) {
        if (variable.type === "datasource") variable.current = source;
      }
      // The SDK writes its own (newest) version; every Grafana the stack targets must accept the number.
      dashboard.schemaVersion = dashboardSchemaVersion;
      return [key, dashboard];
    }),
  );
}
