/**
 * The dashboard `schemaVersion` the stack declares, and why. Grafana's
 * frontend migrator runs each step only for dashboards older than it, so a
 * newer number loads unmigrated; but Grafana's backend migrator (the
 * dashboards API of Grafana 12) refuses a dashboard newer than the latest
 * version it knows ("schema version not migrated to target version"). So the
 * dashboards declare the newest version every targeted Grafana knows, and
 * carry nothing that a newer Grafana's migrations would rewrite on load.
 */

/** Newest dashboard schema version a Grafana minor migrates to. */
export const latestSchemaVersion = {
  /** v39 (timeSeriesTable per-refId options) came with grafana/grafana#76801, merged 2023-10, months before 10.4 (2024-03). */
  "10.4": 39,
  /** v42 (hideFrom.viz implies hideFrom.tooltip) came with grafana/grafana#110517, merged 2025-09, months before 12.4 (2026). */
  "12.4": 42,
} as const;
export type KnownGrafanaMinor = keyof typeof latestSchemaVersion;

/**
 * The oldest Grafana the stack supports: Amazon Managed Grafana `10.4`, also
 * assumed for an external Grafana, whose version the stack is not told.
 */
export const oldestSupportedGrafana: KnownGrafanaMinor = "10.4";

/** What every dashboard declares: the newest schema the oldest supported Grafana knows. */
export const dashboardSchemaVersion: number = latestSchemaVersion[oldestSupportedGrafana];

type Json = Record<string, unknown>;
const asRecord = (v: unknown): Json | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Panels and the panels nested in rows. */
function allPanels(dashboard: Json): Json[] {
  return asArray(dashboard.panels).flatMap((p) => {
    const panel = asRecord(p);
    return panel ? [panel, ...asArray(panel.panels).flatMap((n) => (asRecord(n) ? [n as Json] : []))] : [];
  });
}

/**
 * What the migrations after {@link dashboardSchemaVersion} (v40–v42, Grafana's
 * apps/dashboard/pkg/migration/schemaversion/v40.go … v42.go) would change in
 * this dashboard when a newer Grafana loads it. Empty means declaring the
 * older version does not change the dashboard's meaning anywhere.
 */
export function rewrittenByNewerMigrations(dashboard: Json): string[] {
  const found: string[] = [];
  // v40: a refresh that is missing or not a string becomes "".
  if (typeof dashboard.refresh !== "string") found.push(`v40 rewrites refresh ${JSON.stringify(dashboard.refresh)} to ""`);
  // v41: timepicker.time_options is deleted.
  if (asRecord(dashboard.timepicker)?.time_options !== undefined) found.push("v41 deletes timepicker.time_options");
  // v42: an override hiding a field from the visualization also hides it from the tooltip.
  for (const panel of allPanels(dashboard)) {
    for (const override of asArray(asRecord(panel.fieldConfig)?.overrides)) {
      for (const property of asArray(asRecord(override)?.properties)) {
        const p = asRecord(property);
        const value = asRecord(p?.value);
        if (p?.id === "custom.hideFrom" && value?.viz === true && value.tooltip !== true) found.push(`v42 sets hideFrom.tooltip on panel ${JSON.stringify(panel.title)}`);
      }
    }
  }
  return found;
}
