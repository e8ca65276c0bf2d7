/**
 * What a change does to a stack's dashboards, alert/recording rules and Helm
 * values, from two offline renders (`npm run synth -- <stack> --out <dir>` on
 * the base and on the head commit), as a short Markdown summary for a pull
 * request comment. `pulumi preview --diff` shows the same changes as JSON
 * string diffs inside resource inputs; this reads them by name instead.
 * The command line is scripts/synthDiff.ts.
 *
 * A missing directory counts as empty (a stack that is new, or failed to render).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse } from "yaml";
import { panelsOf } from "../lib/dashboardJson";

export interface DashboardPanel {
  title: string;
  /** Query expressions by refId (or position). */
  exprs: Record<string, string>;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
}

export interface Rule {
  kind: "alert" | "record";
  name: string;
  group: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
}

export interface Render {
  dashboards: Map<string, Dashboard>;
  /** Keyed by `group/name`. */
  rules: Map<string, Rule>;
  /** Release name → flattened values (`a.b[0].c` → JSON text of the leaf). */
  helm: Map<string, Map<string, string>>;
}

function listFiles(dir: string, suffix: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(suffix))
        .sort()
    : [];
}

interface RawPanel {
  type?: string;
  title?: string;
  targets?: Array<{ refId?: unknown; expr?: unknown }>;
  panels?: RawPanel[];
}

/** Panels in display order, rows' collapsed children included; untitled ones get their position. */
function flattenPanels(panels: RawPanel[] | undefined): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  for (const panel of panelsOf({ panels: panels ?? [] })) {
    const exprs: Record<string, string> = {};
    for (const [i, target] of (panel.targets ?? []).entries()) {
      if (typeof target.expr === "string") exprs[typeof target.refId === "string" ? target.refId : String(i)] = target.expr;
    }
    const base = typeof panel.title === "string" && panel.title ? panel.title : `panel ${out.length + 1}`;
    // Titles key the comparison, so repeated ones are numbered in display order.
    const seen = out.filter((p) => p.title === base || p.title.startsWith(`${base} #`)).length;
    out.push({ title: seen === 0 ? base : `${base} #${seen + 1}`, exprs });
  }
  return out;
}

function flatten(value: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(path, "[]");
    value.forEach((item, i) => flatten(item, `${path}[${i}]`, out));
  } else if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0 && path) out.set(path, "{}");
    for (const [key, child] of entries) flatten(child, path ? `${path}.${/^[\w-]+$/.test(key) ? key : JSON.stringify(key)}` : key, out);
  } else {
    out.set(path, JSON.stringify(value));
  }
  return out;
}

/** Reads what `synth` wrote to `dir` (an `out/<stack>` directory). */
export function readRender(dir: string): Render {
  const dashboards = new Map<string, Dashboard>();
  for (const file of listFiles(join(dir, "grafana", "dashboards"), ".json")) {
    const raw = JSON.parse(readFileSync(join(dir, "grafana", "dashboards", file), "utf8")) as { uid?: string; title?: string; panels?: RawPanel[] };
    const uid = raw.uid ?? basename(file, ".json");
    dashboards.set(uid, { uid, title: raw.title ?? uid, panels: flattenPanels(raw.panels) });
  }
  const rules = new Map<string, Rule>();
  for (const file of listFiles(join(dir, "prometheus", "rules"), ".yaml")) {
    const doc = parse(readFileSync(join(dir, "prometheus", "rules", file), "utf8")) as { groups?: Array<{ name: string; rules?: Array<Record<string, unknown>> }> };
    for (const group of doc.groups ?? []) {
      for (const r of group.rules ?? []) {
        const kind = typeof r.alert === "string" ? "alert" : "record";
        const name = String(r.alert ?? r.record);
        rules.set(`${group.name}/${name}`, {
          kind,
          name,
          group: group.name,
          expr: String(r.expr ?? ""),
          ...(r.for !== undefined ? { for: String(r.for) } : {}),
          labels: Object.fromEntries(Object.entries((r.labels ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
        });
      }
    }
  }
  const helm = new Map<string, Map<string, string>>();
  for (const file of listFiles(join(dir, "helm"), ".yaml")) {
    helm.set(basename(file, ".yaml"), flatten(parse(readFileSync(join(dir, "helm", file), "utf8")) ?? {}, "", new Map()));
  }
  return { dashboards, rules, helm };
}

const maxInline = 120;

function inline(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  const short = oneLine.length > maxInline ? `${oneLine.slice(0, maxInline - 1)}…` : oneLine;
  return `\`${short.replace(/`/g, "'")}\``;
}

function change(before: string, after: string): string {
  // Multi-line values (e.g. the DCGM counters CSV) read better as a size than as two truncated lines.
  if (before.includes("\\n") || after.includes("\\n")) {
    const lines = (s: string) => (JSON.parse(s) as string).split("\n").length;
    return `changed (${lines(before)} → ${lines(after)} lines)`;
  }
  return `${inline(before)} → ${inline(after)}`;
}

function keyed<T>(before: Map<string, T>, after: Map<string, T>) {
  return {
    added: [...after.keys()].filter((k) => !before.has(k)).sort(),
    removed: [...before.keys()].filter((k) => !after.has(k)).sort(),
    common: [...after.keys()].filter((k) => before.has(k)).sort(),
  };
}

export function diffDashboards(before: Render["dashboards"], after: Render["dashboards"]): string[] {
  const lines: string[] = [];
  const { added, removed, common } = keyed(before, after);
  for (const uid of added) lines.push(`- added dashboard \`${uid}\` (${after.get(uid)!.title}, ${after.get(uid)!.panels.length} panels)`);
  for (const uid of removed) lines.push(`- removed dashboard \`${uid}\` (${before.get(uid)!.title})`);
  for (const uid of common) {
    const a = before.get(uid)!;
    const b = after.get(uid)!;
    const details: string[] = [];
    if (a.title !== b.title) details.push(`  - title ${inline(a.title)} → ${inline(b.title)}`);
    const panelsA = new Map(a.panels.map((p) => [p.title, p]));
    const panelsB = new Map(b.panels.map((p) => [p.title, p]));
    const panels = keyed(panelsA, panelsB);
    for (const t of panels.added) details.push(`  - added panel ${inline(t)}`);
    for (const t of panels.removed) details.push(`  - removed panel ${inline(t)}`);
    for (const t of panels.common) {
      const ea = panelsA.get(t)!.exprs;
      const eb = panelsB.get(t)!.exprs;
      for (const ref of [...new Set([...Object.keys(ea), ...Object.keys(eb)])].sort()) {
        if (ea[ref] === eb[ref]) continue;
        if (ea[ref] === undefined) details.push(`  - panel ${inline(t)}: added query ${ref}: ${inline(eb[ref]!)}`);
        else if (eb[ref] === undefined) details.push(`  - panel ${inline(t)}: removed query ${ref}`);
        else details.push(`  - panel ${inline(t)} query ${ref}: ${inline(ea[ref]!)} → ${inline(eb[ref]!)}`);
      }
    }
    if (details.length > 0) lines.push(`- dashboard \`${uid}\` (${b.title})`, ...details);
  }
  return lines;
}

export function diffRules(before: Render["rules"], after: Render["rules"]): string[] {
  const lines: string[] = [];
  const { added, removed, common } = keyed(before, after);
  const label = (r: Rule) => `${r.kind} \`${r.name}\` (group ${r.group})`;
  for (const k of added) {
    const r = after.get(k)!;
    lines.push(`- added ${label(r)}: ${inline(r.expr)}${r.for ? ` for ${r.for}` : ""}`);
  }
  for (const k of removed) lines.push(`- removed ${label(before.get(k)!)}`);
  for (const k of common) {
    const a = before.get(k)!;
    const b = after.get(k)!;
    const details: string[] = [];
    if (a.expr !== b.expr) details.push(`expr ${inline(a.expr)} → ${inline(b.expr)}`);
    if (a.for !== b.for) details.push(`for ${a.for ?? "-"} → ${b.for ?? "-"}`);
    for (const name of [...new Set([...Object.keys(a.labels), ...Object.keys(b.labels)])].sort()) {
      if (a.labels[name] !== b.labels[name]) details.push(`label ${name} ${a.labels[name] ?? "-"} → ${b.labels[name] ?? "-"}`);
    }
    if (details.length > 0) lines.push(`- ${label(b)}: ${details.join("; ")}`);
  }
  return lines;
}

export function diffHelm(before: Render["helm"], after: Render["helm"]): string[] {
  const lines: string[] = [];
  const { added, removed, common } = keyed(before, after);
  for (const name of added) lines.push(`- added release \`${name}\` (${after.get(name)!.size} values)`);
  for (const name of removed) lines.push(`- removed release \`${name}\``);
  for (const name of common) {
    const a = before.get(name)!;
    const b = after.get(name)!;
    const keys = keyed(a, b);
    const details = [
      ...keys.added.map((k) => `  - \`${k}\`: added ${inline(b.get(k)!)}`),
      ...keys.removed.map((k) => `  - \`${k}\`: removed (was ${inline(a.get(k)!)})`),
      ...keys.common.filter((k) => a.get(k) !== b.get(k)).map((k) => `  - \`${k}\`: ${change(a.get(k)!, b.get(k)!)}`),
    ];
    if (details.length > 0) lines.push(`- release \`${name}\``, ...details);
  }
  return lines;
}

/** The PR comment body; its first line is a marker that keeps one comment per stack. */
export function summarize(stack: string, base: Render, head: Render, maxLines = 200): string {
  const sections: Array<[string, string[]]> = [
    ["Dashboards", diffDashboards(base.dashboards, head.dashboards)],
    ["Alert and recording rules", diffRules(base.rules, head.rules)],
    ["Helm values", diffHelm(base.helm, head.helm)],
  ];
  const out = [`<!-- synth-diff:${stack} -->`, `### Synth diff: \`${stack}\``, ""];
  if (sections.every(([, lines]) => lines.length === 0)) {
    out.push("No changes to dashboards, alert rules or Helm values.");
    return out.join("\n");
  }
  for (const [title, lines] of sections) {
    if (lines.length === 0) continue;
    const shown = lines.slice(0, maxLines);
    out.push(`**${title}**`, "", ...shown);
    if (lines.length > shown.length) out.push(`- … ${lines.length - shown.length} more lines; run \`npx tsx scripts/synthDiff.ts\` locally for all`);
    out.push("");
  }
  return out.join("\n").trimEnd();
}
