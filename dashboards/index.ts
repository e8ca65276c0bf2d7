/**
 * The four dashboards of the seed's "Suggested Dashboards Layout" and the SLO
 * dashboard, built with grafana-foundation-sdk. The JSON they build is what
 * goes to Grafana.
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import type { DashboardContext } from "./context";
import { gpuHealthDashboard } from "./gpuHealth";
import { modelDrilldownDashboard } from "./modelDrilldown";
import { overviewDashboard } from "./overview";
import { routerBehaviorDashboard } from "./routerBehavior";
import { sloDashboard } from "./sloDashboard";
import type { DashboardKey } from "./seed";

export { dashboardTitles, dashboardUid, type DashboardContext } from "./context";
export type { Dashboard };

export function buildDashboards(ctx: DashboardContext): Record<DashboardKey, Dashboard> {
  return {
    overview: overviewDashboard(ctx).build(),
    modelDrilldown: modelDrilldownDashboard(ctx).build(),
    gpuHealth: gpuHealthDashboard(ctx).build(),
    routerBehavior: routerBehaviorDashboard(ctx).build(),
    slo: sloDashboard(ctx).build(),
  };
}
