/**
 * A stack's review, base render → head render: a one-line headline, what
 * needs a person's attention, then every change by section (resources,
 * dashboards, rules, Helm values), as Markdown for the pull request. The
 * comment stays within GitHub's size limit by shortening sections and linking
 * the full review, which is written whole beside the renders.
 */
import { durationSeconds } from "../lib/duration";
import { diffDashboards, type DashboardChange } from "./dashboards";
import { isUnder, leafChanges } from "./keyed";
import type { Render } from "./render";
import { diffResources, type ResourceChange } from "./resources";
import { costLines } from "./cost";
import { costBudgetType } from "../domain/naming";
import { changedSpan, diffRules, type RuleChange } from "./rules";
import { changeText, code, plural } from "./text";

/** GitHub refuses comments over 65,536 characters; the rest is headroom for the workflow's own lines. */
export const commentLimit = 60_000;
/** Expressions longer than this also show the part that changed. */
const longExpr = 100;

export interface StackReview {
  stack: string;
  /** The base does not render this stack: everything is new. */
  newStack: boolean;
  headline: string;
  /** Cost and active series at max size, base → head, when either moved. */
  cost?: string;
  attention: string[];
  sections: { title: string; lines: string[] }[];
}

/** Inputs another section shows in full: a resource's line only counts them. */
const shownElsewhere: Readonly<Record<string, readonly [prefix: string, section: string][]>> = {
  "kubernetes:helm.sh/v3:Release": [["values", "Helm values"]],
  "grafana:oss/dashboard:Dashboard": [["configJson", "Dashboards"]],
  "kubernetes:monitoring.coreos.com/v1:PrometheusRule": [["spec", "Rules"]],
  "aws:amp/ruleGroupNamespace:RuleGroupNamespace": [["data", "Rules"]],
  "grafana:alerting/ruleGroup:RuleGroup": [["rules", "Rules"]],
};
/** A JSON document in an input with more changed values than this is counted, not listed. */
const documentLines = 4;

function resourceLines(c: ResourceChange): string[] {
  const head = `${c.kind} ${code(c.name)} (${c.type})${c.protect ? ", protected" : ""}`;
  if (c.kind === "added" || c.kind === "removed") return [`- ${head}`];
  const lines = [`- ${head}`];
  const counted = new Map<string, number>();
  for (const ch of c.changes) {
    const elsewhere = (shownElsewhere[c.type] ?? []).find(([p]) => isUnder(ch.path, p));
    const doc = ch.path.includes("{}") ? ch.path.slice(0, ch.path.indexOf("{}") + 2) : undefined;
    // A document that is a dashboard or a rule file is compared in its own section.
    const inside = doc ? ch.path.slice(doc.length) : "";
    const section = /^\.(panels|templating)\b/.test(inside) ? "Dashboards" : /^\.groups\[/.test(inside) ? "Rules" : undefined;
    const group = elsewhere
      ? `${elsewhere[0]} (see ${elsewhere[1]})`
      : doc && section
        ? `${doc} (see ${section})`
        : doc && c.changes.filter((x) => x.path.startsWith(doc)).length > documentLines
          ? doc
          : undefined;
    if (group) {
      counted.set(group, (counted.get(group) ?? 0) + 1);
      continue;
    }
    lines.push(`  - ${code(ch.path)}: ${changeText(ch)}${ch.replaces ? " (forces replacement)" : ""}`);
  }
  for (const [group, n] of counted)
    lines.push(`  - ${code(group.split(" ")[0] as string)}${group.includes(" (") ? group.slice(group.indexOf(" (")) : ""}: ${plural(n, "value")} changed`);
  return lines;
}

/** Where a stack's dashboard pictures are in the artifact (`<folder>/{base,head}/<stack>/<uid>.png`), when `npm run preview` drew them. */
export interface Pictures {
  folder: string;
  stack: string;
}

function dashboardLines(d: DashboardChange, pictures: Pictures | undefined): string[] {
  const picture = (side: "base" | "head") => (pictures ? `\`${pictures.folder}/${side}/${pictures.stack}/${d.uid}.png\`` : "");
  const pictureLine = pictures ? [`  - pictures in the artifact: ${d.kind === "added" ? "(none)" : picture("base")} → ${d.kind === "removed" ? "(none)" : picture("head")}`] : [];
  if (d.kind === "added") return [`- added dashboard ${code(d.uid)} (${d.title}, ${d.details[0]})`, ...pictureLine];
  if (d.kind === "removed") return [`- removed dashboard ${code(d.uid)} (${d.title})`, ...pictureLine];
  return [`- dashboard ${code(d.uid)} (${d.title})`, ...pictureLine, ...d.details.map((x) => `  - ${x}`)];
}

function ruleLines(r: RuleChange): string[] {
  const label = `${r.rule.kind} ${code(r.rule.name)} (group ${r.rule.group})`;
  if (r.kind === "added") return [`- added ${label}: ${code(r.rule.expr)}${r.rule.for ? ` for ${r.rule.for}` : ""}`];
  if (r.kind === "removed") return [`- removed ${label}`];
  const before = r.before as NonNullable<RuleChange["before"]>;
  const words = r.details.filter((d) => d !== "expr");
  const lines = [`- ${label}: ${[...(r.details.includes("expr") ? ["expr changed"] : []), ...words].join("; ")}`];
  for (const t of r.thresholds) lines.push(`  - threshold ${t.op} ${t.before} → ${t.after} (${t.move}; fires ${t.loosened ? "less" : "more"} often)`);
  if (r.details.includes("expr")) {
    if (before.expr.length > longExpr || r.rule.expr.length > longExpr) {
      const span = changedSpan(before.expr, r.rule.expr);
      lines.push(`  - the change: ${code(span.before)} → ${code(span.after)}`);
    }
    lines.push("", "  ```diff", `  - ${before.expr.replace(/\s+/g, " ")}`, `  + ${r.rule.expr.replace(/\s+/g, " ")}`, "  ```", "");
  }
  return lines;
}

function helmLines(base: Render["helm"], head: Render["helm"]): string[] {
  const lines: string[] = [];
  for (const name of [...new Set([...base.keys(), ...head.keys()])].sort()) {
    const a = base.get(name);
    const b = head.get(name);
    if (!a) lines.push(`- added release ${code(name)} (${plural((b as Map<string, string>).size, "value")})`);
    else if (!b) lines.push(`- removed release ${code(name)}`);
    else {
      const changes = leafChanges(a, b);
      if (changes.length === 0) continue;
      lines.push(`- release ${code(name)}`);
      for (const c of changes) {
        const multiline = [c.before, c.after].some((v) => v?.includes("\\n"));
        const lineCount = (v: string | undefined) => (v === undefined ? 0 : (JSON.parse(v) as string).split("\n").length);
        lines.push(`  - ${code(c.path)}: ${multiline ? `text changed (${lineCount(c.before)} → ${lineCount(c.after)} lines)` : changeText(c)}`);
      }
    }
  }
  return lines;
}

function isGpuNodeGroup(r: { type: string; inputs: Record<string, unknown> }): boolean {
  const labels = r.inputs.labels as Record<string, unknown> | undefined;
  return r.type === "aws:eks/nodeGroup:NodeGroup" && labels?.["infermesh.io/node-class"] === "gpu";
}

/** Sum of the GPU node groups' maximum sizes. */
export function gpuMaxNodes(resources: Render["resources"]): number {
  let total = 0;
  for (const r of resources.values()) if (isGpuNodeGroup(r)) total += Number((r.inputs.scalingConfig as { maxSize?: unknown } | undefined)?.maxSize ?? 0);
  return total;
}

const iamTypes = /^aws:iam\/|^aws:eks\/(accessEntry|accessPolicyAssociation):/;

function widensIam(c: ResourceChange): string | undefined {
  if (!iamTypes.test(c.type)) return undefined;
  if (c.kind === "added") return `${code(c.name)} (${c.type}) is new`;
  const grown = c.changes.filter((ch) => {
    if (!/Action|Resource|Principal|policyArn|accessScope|Condition/.test(ch.path)) return false;
    if (ch.element) return ch.element === "added";
    if (ch.after === undefined) return false;
    if (ch.before === undefined) return true;
    const a = JSON.parse(ch.before) as unknown;
    const b = JSON.parse(ch.after) as unknown;
    const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : [String(v)]);
    return list(b).some((x) => !list(a).includes(x)) || list(b).includes("*");
  });
  return grown.length > 0
    ? `${code(c.name)} (${c.type}): ${grown.map((g) => (g.element ? `${code(g.path)} ${changeText(g)}` : `${code(g.path)} now ${code(g.after as string)}`)).join("; ")}`
    : undefined;
}

/** `previews`: the artifact's folder of dashboard pictures, when they were drawn; each changed dashboard links its before and after. */
export function reviewStack(stack: string, base: Render | undefined, head: Render, opts: { previews?: string } = {}): StackReview {
  const empty: Render = { stack, dir: "", resources: new Map(), dashboards: new Map(), rules: new Map(), helm: new Map() };
  const b = base ?? empty;
  // The cost estimate's component is read in its own section, from cost.json.
  const resources = diffResources(b.resources, head.resources).filter((r) => r.type !== costBudgetType);
  const dashboards = diffDashboards(b.dashboards, head.dashboards);
  const rules = diffRules(b.rules, head.rules);
  const helm = helmLines(b.helm, head.helm);
  const cost = costLines(base?.cost, head.cost, base !== undefined);

  const attention: string[] = [...cost.attention];
  for (const r of resources.filter((x) => x.kind === "replaced")) {
    const why = r.changes.filter((c) => c.replaces).map((c) => code(c.path));
    const what = r.type === "aws:eks/nodeGroup:NodeGroup" ? "node group will be recreated (its nodes drained and replaced)" : "will be replaced (deleted and created)";
    attention.push(`${code(r.name)} (${r.type}) ${what}: ${why.join(", ")} cannot change in place`);
  }
  for (const r of resources.filter((x) => x.kind === "removed" && x.type === "aws:eks/nodeGroup:NodeGroup"))
    attention.push(`node group ${code(r.name)} is removed: its nodes are drained and terminated`);
  for (const r of resources.filter((x) => x.protect && x.kind !== "added")) attention.push(`protected ${code(r.name)} (${r.type}) is ${r.kind}`);
  for (const r of resources) {
    const widened = widensIam(r);
    if (widened) attention.push(`IAM widens: ${widened}`);
  }
  for (const r of rules.filter((x) => x.kind === "removed" && x.rule.kind === "alert")) attention.push(`alert ${code(r.rule.name)} (group ${r.rule.group}) is deleted`);
  for (const r of rules)
    for (const t of r.thresholds.filter((x) => x.loosened)) attention.push(`alert ${code(r.rule.name)} loosened: ${t.op} ${t.before} → ${t.after} (fires less often)`);
  for (const r of rules.filter((x) => x.kind === "changed" && x.details.some((d) => d.startsWith("for ")))) {
    const [from, to] = [r.before?.for, r.rule.for];
    if (from && to && durationSeconds(to) > durationSeconds(from)) attention.push(`alert ${code(r.rule.name)} waits longer before firing: for ${from} → ${to}`);
  }

  const counts = (["added", "removed", "replaced", "updated"] as const).map((k) => [k, resources.filter((r) => r.kind === k).length] as const).filter(([, n]) => n > 0);
  const parts: string[] = [];
  parts.push(resources.length === 0 ? "no resource changes" : `${plural(resources.length, "resource")} changed (${counts.map(([k, n]) => `${n} ${k}`).join(", ")})`);
  const moves = rules.flatMap((r) => r.thresholds);
  for (const move of ["lowered", "raised"] as const) {
    const n = moves.filter((t) => t.move === move).length;
    if (n > 0) parts.push(`${plural(n, "alert threshold")} ${move}`);
  }
  const panelThresholds = dashboards.reduce((n, d) => n + d.thresholdChanges, 0);
  if (panelThresholds > 0) parts.push(`${plural(panelThresholds, "panel threshold")} changed`);
  const gpuDelta = gpuMaxNodes(head.resources) - gpuMaxNodes(b.resources);
  if (gpuDelta !== 0) parts.push(`GPU max ${gpuDelta > 0 ? "+" : ""}${gpuDelta} ${Math.abs(gpuDelta) === 1 ? "node" : "nodes"}`);
  if (dashboards.length > 0) parts.push(`${plural(dashboards.length, "dashboard")} changed`);
  if (rules.length > 0) parts.push(`${plural(rules.length, "rule")} changed`);

  return {
    stack,
    newStack: base === undefined,
    headline: parts.join(", "),
    ...(cost.summary ? { cost: cost.summary } : {}),
    attention,
    sections: [
      { title: "Cost and cardinality", lines: cost.lines },
      { title: "Resources", lines: resources.flatMap(resourceLines) },
      { title: "Dashboards", lines: dashboards.flatMap((d) => dashboardLines(d, opts.previews ? { folder: opts.previews, stack } : undefined)) },
      { title: "Rules", lines: rules.flatMap(ruleLines) },
      { title: "Helm values", lines: helm },
    ],
  };
}

export interface MarkdownOptions {
  /** Where the full review and both renders can be read (the workflow run's artifacts). */
  artifactUrl?: string;
  /** Character budget; sections are shortened to fit it. */
  limit?: number;
}

function render(r: StackReview, maxLines: number, opts: MarkdownOptions): string {
  const out = [
    `<!-- infermesh-review:${r.stack} -->`,
    `### Review: \`${r.stack}\``,
    "",
    `**${r.headline}**${r.newStack ? " (the base does not render this stack: everything is new)" : ""}`,
    "",
    ...(r.cost ? [`Cost and cardinality: ${r.cost}`, ""] : []),
  ];
  if (opts.artifactUrl) out.push(`Full review and both renders (\`out/${r.stack}/\` of base and head): ${opts.artifactUrl}`, "");
  if (r.attention.length > 0) {
    out.push("**Needs attention**", "");
    const shown = r.attention.slice(0, maxLines);
    out.push(...shown.map((a) => `- ⚠️ ${a}`));
    if (r.attention.length > shown.length) out.push(`- … ${r.attention.length - shown.length} more in the full review`);
    out.push("");
  }
  if (r.sections.every((s) => s.lines.length === 0)) out.push("No changes to resources, dashboards, rules or Helm values.");
  for (const s of r.sections) {
    if (s.lines.length === 0) continue;
    const shown = s.lines.slice(0, maxLines);
    out.push(`**${s.title}**`, "", ...shown);
    if (s.lines.length > shown.length) out.push(`- … ${s.lines.length - shown.length} more lines in the full review${opts.artifactUrl ? ` (${opts.artifactUrl})` : ""}`);
    out.push("");
  }
  return out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trimEnd();
}

/** The review as Markdown: whole when it fits `limit`, else each list shortened until it does. */
export function toMarkdown(r: StackReview, opts: MarkdownOptions = {}): string {
  const limit = opts.limit ?? commentLimit;
  const longest = Math.max(r.attention.length, ...r.sections.map((s) => s.lines.length));
  let text = render(r, longest, opts);
  for (let maxLines = Math.min(longest, 400); text.length > limit && maxLines > 0; maxLines = Math.floor(maxLines / 2)) text = render(r, maxLines, opts);
  return text.length > limit ? `${text.slice(0, limit - 80)}\n\n… cut at ${limit} characters; the full review is in the artifact.` : text;
}
