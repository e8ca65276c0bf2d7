/**
 * One offline render, as `npm run synth -- <stack> --out <dir>` writes it,
 * read back for review: the plan's resources by URN, the dashboards' panels
 * by title, the Prometheus rules by group and name, and each Helm release's
 * values. A directory that is not a render is an error, never an empty side.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parse } from "yaml";
import { panelsOf } from "../lib/dashboardJson";
import type { CostReport } from "../cost/estimate";
import { flattenKeyed, isUnder } from "./keyed";

/** What Panel reads into its own fields; `rest` holds the remainder. */
const panelFieldsRead = ["title", "type", "gridPos", "targets", "panels", "fieldConfig.defaults.unit", "fieldConfig.defaults.thresholds"];

function withoutPaths(flat: Map<string, string>, prefixes: readonly string[]): Map<string, string> {
  return new Map([...flat].filter(([path]) => !prefixes.some((p) => isUnder(path, p))));
}

export interface PlanResource {
  urn: string;
  type: string;
  name: string;
  parent: string | null;
  protect: boolean;
  inputs: Record<string, unknown>;
}

export interface PanelQuery {
  expr: string;
  legend: string;
  instant: boolean;
}

export interface Panel {
  title: string;
  type: string;
  /** `x,y wxh` on the dashboard's grid. */
  position: string;
  unit: string;
  /** Threshold steps as `color@value` (the base step's value is `base`). */
  thresholds: string[];
  queries: Record<string, PanelQuery>;
  /** Everything else the panel's JSON says (overrides, options, links…), flattened by name. */
  rest: Map<string, string>;
}

export interface Dashboard {
  /** Everything else the dashboard's JSON says (links, tags, refresh…), flattened by name. */
  rest: Map<string, string>;
  uid: string;
  title: string;
  panels: Map<string, Panel>;
  /** Variable name → what defines it (its query, or its options). */
  variables: Map<string, string>;
  timeRange: string;
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
  stack: string;
  dir: string;
  resources: Map<string, PlanResource>;
  dashboards: Map<string, Dashboard>;
  /** Keyed by `group/name`. */
  rules: Map<string, Rule>;
  /** Release name → flattened values. */
  helm: Map<string, Map<string, string>>;
  /** `cost.json`, when the render has one (renders before it was written have none). */
  cost?: CostReport;
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
  gridPos?: { x?: number; y?: number; w?: number; h?: number };
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps?: Array<{ color?: string; value?: number | null }> } } };
  targets?: Array<{ refId?: unknown; expr?: unknown; legendFormat?: unknown; instant?: unknown }>;
  panels?: RawPanel[];
}

function readPanels(panels: RawPanel[] | undefined): Map<string, Panel> {
  const out = new Map<string, Panel>();
  for (const raw of panelsOf({ panels: panels ?? [] }) as RawPanel[]) {
    if (raw.type === "row") continue;
    const queries: Record<string, PanelQuery> = {};
    for (const [i, t] of (raw.targets ?? []).entries()) {
      if (typeof t.expr !== "string") continue;
      queries[typeof t.refId === "string" ? t.refId : String(i)] = { expr: t.expr, legend: typeof t.legendFormat === "string" ? t.legendFormat : "", instant: t.instant === true };
    }
    const base = raw.title || `untitled ${raw.type ?? "panel"}`;
    // Titles key the comparison; a repeated one is numbered in display order.
    let title = base;
    for (let n = 2; out.has(title); n++) title = `${base} #${n}`;
    const g = raw.gridPos ?? {};
    out.set(title, {
      title,
      type: raw.type ?? "",
      position: `${g.x ?? 0},${g.y ?? 0} ${g.w ?? 0}x${g.h ?? 0}`,
      unit: raw.fieldConfig?.defaults?.unit ?? "",
      thresholds: (raw.fieldConfig?.defaults?.thresholds?.steps ?? []).map((s) => `${s.color ?? "?"}@${s.value === null || s.value === undefined ? "base" : s.value}`),
      queries,
      rest: withoutPaths(flattenKeyed(raw), panelFieldsRead),
    });
  }
  return out;
}

interface RawDashboard {
  uid?: string;
  title?: string;
  panels?: RawPanel[];
  time?: { from?: string; to?: string };
  templating?: { list?: Array<{ name?: string; type?: string; query?: unknown; definition?: unknown; includeAll?: boolean; multi?: boolean }> };
}

function readDashboard(file: string): Dashboard {
  const raw = JSON.parse(readFileSync(file, "utf8")) as RawDashboard;
  const uid = raw.uid ?? basename(file, ".json");
  const variables = new Map<string, string>();
  for (const v of raw.templating?.list ?? []) {
    if (!v.name) continue;
    const query = typeof v.definition === "string" && v.definition ? v.definition : JSON.stringify(v.query ?? "");
    variables.set(v.name, `${v.type ?? "?"} ${query}${v.includeAll ? ", All" : ""}${v.multi ? ", multi" : ""}`);
  }
  return {
    uid,
    title: raw.title ?? uid,
    panels: readPanels(raw.panels),
    variables,
    timeRange: `${raw.time?.from ?? ""} to ${raw.time?.to ?? ""}`,
    rest: withoutPaths(flattenKeyed(raw), ["uid", "title", "panels", "templating", "time"]),
  };
}

function readRules(dir: string): Map<string, Rule> {
  const rules = new Map<string, Rule>();
  for (const file of listFiles(dir, ".yaml")) {
    const doc = parse(readFileSync(join(dir, file), "utf8")) as { groups?: Array<{ name: string; rules?: Array<Record<string, unknown>> }> };
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
  return rules;
}

const hint = "write one with `npm run synth -- <stack> --out <dir>`";

/** Reads the render in `dir` (an `out/<stack>` directory). */
export function readRender(dir: string): Render {
  const planFile = join(dir, "plan.json");
  if (!existsSync(dir)) throw new Error(`${dir} does not exist; ${hint}`);
  if (!existsSync(planFile)) throw new Error(`${dir} is not a render: it has no plan.json; ${hint}`);
  const plan = JSON.parse(readFileSync(planFile, "utf8")) as { stack?: unknown; resources?: unknown };
  if (typeof plan.stack !== "string" || !Array.isArray(plan.resources)) throw new Error(`${planFile} is not a plan: it needs "stack" and "resources"; ${hint}`);
  const resources = new Map<string, PlanResource>();
  for (const r of plan.resources as PlanResource[]) resources.set(r.urn, { ...r, inputs: r.inputs ?? {} });
  const dashboards = new Map<string, Dashboard>();
  for (const file of listFiles(join(dir, "grafana", "dashboards"), ".json")) {
    const d = readDashboard(join(dir, "grafana", "dashboards", file));
    dashboards.set(d.uid, d);
  }
  const helm = new Map<string, Map<string, string>>();
  for (const file of listFiles(join(dir, "helm"), ".yaml")) helm.set(basename(file, ".yaml"), flattenKeyed(parse(readFileSync(join(dir, "helm", file), "utf8")) ?? {}));
  const costFile = join(dir, "cost.json");
  const cost = existsSync(costFile) ? (JSON.parse(readFileSync(costFile, "utf8")) as CostReport) : undefined;
  return { stack: plan.stack, dir, resources, dashboards, rules: readRules(join(dir, "prometheus", "rules")), helm, ...(cost ? { cost } : {}) };
}

/**
 * The renders under `dir`: `dir` itself when it is one, else each of its
 * sub-directories that is one (`out/` holds one per stack), each read once,
 * by stack name.
 */
export function findRenders(dir: string): Map<string, Render> {
  if (!existsSync(dir)) throw new Error(`${dir} does not exist; ${hint}`);
  if (existsSync(join(dir, "plan.json"))) {
    const render = readRender(dir);
    return new Map([[render.stack, render]]);
  }
  const found = new Map<string, Render>();
  for (const entry of readdirSync(dir).sort()) {
    const sub = join(dir, entry);
    if (statSync(sub).isDirectory() && existsSync(join(sub, "plan.json"))) {
      const render = readRender(sub);
      found.set(render.stack, render);
    }
  }
  if (found.size === 0) throw new Error(`${dir} is not a render and holds none (no plan.json in it or its sub-directories); ${hint}`);
  return found;
}

/**
 * The base and head renders of each stack to review: `stack` alone when
 * given (it must be in head), else every stack head renders. A stack the base
 * does not render is an error unless `newStack` says the base cannot (a stack
 * the pull request adds); then its base is undefined.
 */
export function pairRenders(baseDir: string, headDir: string, opts: { stack?: string; newStack?: boolean } = {}): { stack: string; base?: Render; head: Render }[] {
  const heads = findRenders(headDir);
  const bases = opts.newStack ? new Map<string, Render>() : findRenders(baseDir);
  const stacks = opts.stack === undefined ? [...heads.keys()] : [opts.stack];
  return stacks.map((stack) => {
    const head = heads.get(stack);
    if (!head) throw new Error(`no render of stack ${JSON.stringify(stack)} in ${headDir}; renders there: ${[...heads.keys()].join(", ")}`);
    const base = bases.get(stack);
    if (!base && !opts.newStack)
      throw new Error(
        `no render of stack ${JSON.stringify(stack)} in ${baseDir} (renders there: ${[...bases.keys()].join(", ")}); pass --new-stack when the base does not have it`,
      );
    return { stack, head, ...(base ? { base } : {}) };
  });
}
