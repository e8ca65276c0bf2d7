/**
 * Dashboards base → head, as a reader sees them: panels (by title) added,
 * removed or moved on the grid, and per panel its type, unit, thresholds,
 * queries and legends; variables by name; the time range.
 */
import { leafChanges } from "./keyed";
import { changeText, code } from "./text";
import type { Dashboard, Panel, Render } from "./render";

export interface DashboardChange {
  uid: string;
  title: string;
  kind: "added" | "removed" | "changed";
  /** One line per difference, for the changed ones. */
  details: string[];
  /** How many panels' thresholds differ. */
  thresholdChanges: number;
}

function panelDetails(a: Panel, b: Panel): string[] {
  const out: string[] = [];
  const p = `panel ${code(b.title)}`;
  if (a.type !== b.type) out.push(`${p}: type ${a.type} → ${b.type}`);
  if (a.position !== b.position) out.push(`${p}: moved ${a.position} → ${b.position}`);
  if (a.unit !== b.unit) out.push(`${p}: unit ${code(a.unit || "none")} → ${code(b.unit || "none")}`);
  if (a.thresholds.join(" ") !== b.thresholds.join(" ")) out.push(`${p}: thresholds ${a.thresholds.join(", ") || "none"} → ${b.thresholds.join(", ") || "none"}`);
  for (const ref of [...new Set([...Object.keys(a.queries), ...Object.keys(b.queries)])].sort()) {
    const qa = a.queries[ref];
    const qb = b.queries[ref];
    if (!qa && qb) out.push(`${p}: added query ${ref} ${code(qb.expr)}`);
    else if (qa && !qb) out.push(`${p}: removed query ${ref} ${code(qa.expr)}`);
    else if (qa && qb) {
      if (qa.expr !== qb.expr) out.push(`${p} query ${ref}: ${code(qa.expr)} → ${code(qb.expr)}`);
      if (qa.legend !== qb.legend) out.push(`${p} query ${ref}: legend ${code(qa.legend)} → ${code(qb.legend)}`);
      if (qa.instant !== qb.instant) out.push(`${p} query ${ref}: ${qa.instant ? "instant" : "range"} → ${qb.instant ? "instant" : "range"}`);
    }
  }
  out.push(...restLines(p, a.rest, b.rest));
  return out;
}

/** Whatever else changed, by path: nothing a reader would see goes unreported. */
function restLines(prefix: string, a: Map<string, string>, b: Map<string, string>): string[] {
  return leafChanges(a, b).map((c) => `${prefix}: ${code(c.path)} ${changeText(c)}`);
}

function dashboardDetails(a: Dashboard, b: Dashboard): string[] {
  const out: string[] = [...restLines("dashboard", a.rest, b.rest)];
  if (a.title !== b.title) out.push(`title ${code(a.title)} → ${code(b.title)}`);
  if (a.timeRange !== b.timeRange) out.push(`time range ${a.timeRange} → ${b.timeRange}`);
  for (const [name, def] of b.variables) {
    const before = a.variables.get(name);
    if (before === undefined) out.push(`added variable $${name}: ${code(def)}`);
    else if (before !== def) out.push(`variable $${name}: ${code(before)} → ${code(def)}`);
  }
  for (const name of a.variables.keys()) if (!b.variables.has(name)) out.push(`removed variable $${name}`);
  for (const [title, panel] of b.panels) if (!a.panels.has(title)) out.push(`added panel ${code(title)} (${panel.type})`);
  for (const title of a.panels.keys()) if (!b.panels.has(title)) out.push(`removed panel ${code(title)}`);
  for (const [title, panel] of b.panels) {
    const before = a.panels.get(title);
    if (before) out.push(...panelDetails(before, panel));
  }
  return out;
}

export function diffDashboards(base: Render["dashboards"], head: Render["dashboards"]): DashboardChange[] {
  const uids = [...new Set([...base.keys(), ...head.keys()])].sort();
  return uids.flatMap((uid): DashboardChange[] => {
    const a = base.get(uid);
    const b = head.get(uid);
    if (!a) return [{ uid, title: (b as Dashboard).title, kind: "added", details: [`${(b as Dashboard).panels.size} panels`], thresholdChanges: 0 }];
    if (!b) return [{ uid, title: a.title, kind: "removed", details: [], thresholdChanges: 0 }];
    const details = dashboardDetails(a, b);
    if (details.length === 0) return [];
    const thresholdChanges = [...b.panels].filter(([t, p]) => a.panels.has(t) && (a.panels.get(t) as Panel).thresholds.join() !== p.thresholds.join()).length;
    return [{ uid, title: b.title, kind: "changed", details, thresholdChanges }];
  });
}
