/**
 * Reading dashboard JSON the way Grafana lays it out: panels sit at the top
 * level or inside rows (a collapsed row holds its panels in `panels`), and a
 * panel's queries are its `targets`. Used on built dashboards (the
 * foundation SDK's objects) and on rendered files alike.
 */
import type { Dashboard, Panel } from "@grafana/grafana-foundation-sdk/dashboard";

/** The part of a panel this module reads. */
export interface PanelJson {
  type?: string;
  title?: string;
  panels?: readonly PanelJson[];
  targets?: readonly unknown[];
}

export interface TargetJson {
  expr?: string;
  refId?: string;
  instant?: boolean;
  legendFormat?: string;
  format?: string;
}

/** Every panel that is not a row, in display order, rows' children (collapsed or not) included. */
export function panelsOf(dashboard: Dashboard): Panel[];
export function panelsOf<P extends PanelJson>(dashboard: { panels?: readonly P[] }): P[];
export function panelsOf(dashboard: { panels?: readonly PanelJson[] }): PanelJson[] {
  const out: PanelJson[] = [];
  const walk = (panels: readonly PanelJson[] | undefined) => {
    for (const p of panels ?? []) {
      if (p.type !== "row") out.push(p);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** A panel's targets as the JSON holds them. */
export const targetsOf = (panel: { targets?: readonly unknown[] }): TargetJson[] => (panel.targets ?? []) as TargetJson[];

/**
 * The keys of a query catalog whose queries are exactly a panel's targets,
 * in order (one when the dashboard shows each catalog entry once).
 */
export function catalogKeysOf<K extends string>(exprs: readonly string[], catalog: Readonly<Record<K, readonly { expr: string }[]>>): K[] {
  return (Object.keys(catalog) as K[]).filter((k) => catalog[k].length === exprs.length && catalog[k].every((q, i) => q.expr === exprs[i]));
}

export interface DashboardTarget {
  expr: string;
  refId: string;
  instant: boolean;
}

export interface DashboardPanel<D extends string = string> {
  dashboard: D;
  title: string;
  type: string;
  targets: DashboardTarget[];
}

/** The panels of built dashboards with their targets, exactly as the dashboard JSON holds them; a target without `expr` is an error. */
export function dashboardPanels<D extends string>(dashboards: Readonly<Record<D, Dashboard>>): DashboardPanel<D>[] {
  return (Object.entries(dashboards) as [D, Dashboard][]).flatMap(([dashboard, d]) =>
    panelsOf(d).map((p) => ({
      dashboard,
      title: p.title ?? "(untitled)",
      type: p.type,
      targets: targetsOf(p).map((t, i) => {
        if (!t.expr) throw new Error(`panel ${JSON.stringify(p.title)} of ${dashboard} has a target without expr`);
        return { expr: t.expr, refId: t.refId ?? String(i), instant: t.instant === true };
      }),
    })),
  );
}
