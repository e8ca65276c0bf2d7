/**
 * Prometheus rules base → head, per rule (keyed by group and name): the whole
 * changed expression, the part that changed when it is long, and which way an
 * alert's thresholds moved.
 */
import { parsePromql, type SyntaxNode } from "../lib/promql";
import type { Render, Rule } from "./render";

/** A comparison against a number: `… > 0.9`, `… >= 4`, `0.5 < …` (read as `… > 0.5`). */
export interface Threshold {
  op: ">" | ">=" | "<" | "<=";
  value: number;
}

const ops: Record<string, Threshold["op"]> = { Gtr: ">", Gte: ">=", Lss: "<", Lte: "<=" };
const flipped: Record<Threshold["op"], Threshold["op"]> = { ">": "<", ">=": "<=", "<": ">", "<=": ">=" };

/** The expression's comparisons with a number, in the order they are written. */
export function thresholdsOf(expr: string): Threshold[] {
  const out: Threshold[] = [];
  const cursor = parsePromql(expr).cursor();
  do {
    if (cursor.name !== "BinaryExpr") continue;
    const node: SyntaxNode = cursor.node;
    const children: SyntaxNode[] = [];
    for (let c = node.firstChild; c; c = c.nextSibling) children.push(c);
    const opIndex = children.findIndex((c) => ops[c.name] !== undefined);
    if (opIndex < 0) continue;
    const op = ops[children[opIndex]?.name as string] as Threshold["op"];
    const left = children[0];
    const right = children[children.length - 1];
    if (right?.name === "NumberDurationLiteral") out.push({ op, value: Number(expr.slice(right.from, right.to)) });
    else if (left?.name === "NumberDurationLiteral") out.push({ op: flipped[op], value: Number(expr.slice(left.from, left.to)) });
  } while (cursor.next());
  return out;
}

export type ThresholdMove = "raised" | "lowered";

export interface ThresholdChange {
  op: Threshold["op"];
  before: number;
  after: number;
  move: ThresholdMove;
  /** The alert fires on less than before: `>` raised or `<` lowered. */
  loosened: boolean;
}

/** Threshold by threshold, when both sides compare the same way in the same order; otherwise none can be said. */
export function thresholdChanges(before: string, after: string): ThresholdChange[] {
  const a = thresholdsOf(before);
  const b = thresholdsOf(after);
  if (a.length !== b.length || a.some((t, i) => t.op !== b[i]?.op)) return [];
  return a.flatMap((t, i) => {
    const next = (b[i] as Threshold).value;
    if (next === t.value) return [];
    const move: ThresholdMove = next > t.value ? "raised" : "lowered";
    const loosened = t.op.startsWith(">") ? move === "raised" : move === "lowered";
    return [{ op: t.op, before: t.value, after: next, move, loosened }];
  });
}

/** Words, numbers, strings and runs of punctuation, with where each starts and ends: the units a reader compares. */
export function tokens(text: string): { text: string; from: number; to: number }[] {
  return [...text.matchAll(/"(?:[^"\\]|\\.)*"|[\w.:]+|[^\s\w"]+/g)].map((m) => ({ text: m[0], from: m.index, to: m.index + m[0].length }));
}

/**
 * The part of `after` that differs from `before`, with up to `context` tokens
 * either side, as written: common leading and trailing tokens are cut, so a
 * change deep in a long expression reads `…{pool="l4"}) >= 4)` → `…{pool="l4"}) >= 8)`.
 */
export function changedSpan(before: string, after: string, context = 6): { before: string; after: string } {
  const a = tokens(before);
  const b = tokens(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start]?.text === b[start]?.text) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end]?.text === b[b.length - 1 - end]?.text) end++;
  const from = Math.max(0, start - context);
  const show = (text: string, t: typeof a) => {
    const to = Math.min(t.length, t.length - end + context);
    if (to <= from) return from > 0 ? "…" : "";
    const slice = text.slice(t[from]?.from ?? 0, t[to - 1]?.to ?? text.length);
    return `${from > 0 ? "…" : ""}${slice}${to < t.length ? "…" : ""}`;
  };
  return { before: show(before, a), after: show(after, b) };
}

export interface RuleChange {
  key: string;
  rule: Rule;
  kind: "added" | "removed" | "changed";
  /** For changed rules: what differs, each a whole sentence. */
  details: string[];
  before?: Rule;
  thresholds: ThresholdChange[];
}

export function diffRules(base: Render["rules"], head: Render["rules"]): RuleChange[] {
  const keys = [...new Set([...base.keys(), ...head.keys()])].sort();
  return keys.flatMap((key): RuleChange[] => {
    const a = base.get(key);
    const b = head.get(key);
    if (!a) return [{ key, rule: b as Rule, kind: "added", details: [], thresholds: [] }];
    if (!b) return [{ key, rule: a, kind: "removed", details: [], thresholds: [] }];
    const details: string[] = [];
    if (a.expr !== b.expr) details.push("expr");
    if (a.for !== b.for) details.push(`for ${a.for ?? "-"} → ${b.for ?? "-"}`);
    for (const name of [...new Set([...Object.keys(a.labels), ...Object.keys(b.labels)])].sort()) {
      if (a.labels[name] !== b.labels[name]) details.push(`label ${name} ${a.labels[name] ?? "-"} → ${b.labels[name] ?? "-"}`);
    }
    if (details.length === 0) return [];
    return [{ key, rule: b, before: a, kind: "changed", details, thresholds: b.kind === "alert" ? thresholdChanges(a.expr, b.expr) : [] }];
  });
}
