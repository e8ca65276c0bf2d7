/**
 * PromQL as Prometheus reads it, for the bench, the verification run, the
 * diff summary and the tests: parsed by Prometheus' own grammar
 * (@prometheus-io/lezer-promql), never matched by pattern; and Grafana's
 * substitution of variables and macros, which happens before Prometheus
 * sees a dashboard query.
 */
import { parser } from "@prometheus-io/lezer-promql";
import { durationSeconds } from "./duration";

export type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

// ---------------------------------------------------------------------------
// Grafana variables and macros

/** `${x}`, `${x:format}`, `[[x]]` and `$x`: the ways a dashboard query names a variable or macro. */
const variableReference = /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g;

/** The names of the variables and macros `expr` refers to, in order, repeats kept. */
export function variablesIn(expr: string): string[] {
  return [...expr.matchAll(variableReference)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

/**
 * Replaces every variable and macro (`$__rate_interval` is the variable
 * `__rate_interval`) with its value in `values`; one without a value becomes
 * `otherwise` when given, else stays as written (and fails in Prometheus).
 */
export function substituteVariables(expr: string, values: Readonly<Record<string, string>>, otherwise?: string): string {
  return expr.replace(variableReference, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    if (Object.hasOwn(values, name)) return values[name] as string;
    return otherwise ?? whole;
  });
}

export interface GrafanaMacros {
  /** What `$__rate_interval` becomes. */
  rateInterval: string;
  /** What `$__range` becomes. */
  range: string;
  /** What `$__interval` becomes. */
  interval: string;
}

/**
 * The query Grafana sends for a target with every variable at All: macros
 * become durations (`$__range_s` the range in seconds), and each variable its All value `.*` (dashboards/common.ts).
 */
export function grafanaToPromql(expr: string, macros: GrafanaMacros): string {
  return substituteVariables(
    expr,
    { __rate_interval: macros.rateInterval, __range: macros.range, __range_s: String(durationSeconds(macros.range)), __interval: macros.interval },
    ".*",
  );
}

// ---------------------------------------------------------------------------
// Parsing

/** Parse errors (lezer error nodes, "⚠"), each with its offset and the text around it; none for valid PromQL. */
export function syntaxErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(`at ${n.from}: ${JSON.stringify(expr.slice(Math.max(0, n.from - 15), n.to + 15))}`);
    },
  });
  return errors;
}

/** Parses `expr`, throwing with the place of the first syntax error. */
export function parsePromql(expr: string): SyntaxNode {
  const [first] = syntaxErrors(expr);
  if (first !== undefined) throw new Error(`PromQL syntax error ${first} in ${JSON.stringify(expr)}`);
  return parser.parse(expr).topNode;
}

/** Every node named `name` under `node`, in source order. */
export function descendants(node: SyntaxNode, name: string): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const cursor = node.cursor();
  do {
    if (cursor.name === name) out.push(cursor.node);
  } while (cursor.next() && cursor.from <= node.to);
  return out.filter((n) => n.from >= node.from && n.to <= node.to);
}

export interface SelectorInfo {
  node: SyntaxNode;
  /** Metric name, from the identifier, a `__name__="…"` matcher or a bare quoted name; undefined if none. */
  metric: string | undefined;
  /** The other matchers, as written (`model=~".*"`). */
  matchers: string[];
  /** The same matchers, read: label, operator and unquoted value. */
  parts: LabelMatcher[];
}

export interface LabelMatcher {
  label: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

/** A label name as Prometheus reads it (a quoted one unquoted). */
export function labelNameText(source: string, node: SyntaxNode): string {
  const raw = source.slice(node.from, node.to);
  return node.name === "QuotedLabelName" ? (JSON.parse(raw) as string) : raw;
}

const matchOps: Record<string, LabelMatcher["op"]> = { EqlSingle: "=", Neq: "!=", EqlRegex: "=~", NeqRegex: "!~" };

export function selectorInfo(source: string, node: SyntaxNode): SelectorInfo {
  const identifier = node.getChild("Identifier");
  let metric = identifier ? source.slice(identifier.from, identifier.to) : undefined;
  const matchers: string[] = [];
  const parts: LabelMatcher[] = [];
  const list = node.getChild("LabelMatchers");
  for (let m = list?.firstChild ?? null; m; m = m.nextSibling) {
    if (m.name === "QuotedLabelName") {
      metric = labelNameText(source, m);
      continue;
    }
    if (m.name !== "UnquotedLabelMatcher" && m.name !== "QuotedLabelMatcher") continue;
    const nameNode = m.getChild("LabelName") ?? m.getChild("QuotedLabelName");
    const op = m.getChild("MatchOp")?.firstChild?.name;
    const value = m.getChild("StringLiteral");
    if (nameNode && labelNameText(source, nameNode) === "__name__" && op === "EqlSingle" && value) {
      metric = JSON.parse(source.slice(value.from, value.to)) as string;
    } else if (nameNode && op && value) {
      matchers.push(source.slice(m.from, m.to));
      parts.push({ label: labelNameText(source, nameNode), op: matchOps[op] as LabelMatcher["op"], value: JSON.parse(source.slice(value.from, value.to)) as string });
    }
  }
  return { node, metric, matchers, parts };
}

/** Every vector selector of a (Grafana-substituted) PromQL expression. */
export function selectorsIn(expr: string): SelectorInfo[] {
  return descendants(parsePromql(expr), "VectorSelector").map((n) => selectorInfo(expr, n));
}

/** Labels an expression makes rather than reads: the destinations of its `label_replace` calls. */
export function madeLabels(expr: string): Set<string> {
  const made = new Set<string>();
  for (const call of descendants(parsePromql(expr), "FunctionCall")) {
    if (call.getChild("FunctionIdentifier")?.firstChild?.name !== "LabelReplace") continue;
    const destination = call.getChild("FunctionCallBody")?.getChildren("StringLiteral")[0];
    if (destination) made.add(JSON.parse(expr.slice(destination.from, destination.to)) as string);
  }
  return made;
}

/** The metric names an expression reads; a selector without a name is an error (it would read everything). */
export function metricNamesIn(expr: string): Set<string> {
  const names = new Set<string>();
  for (const s of selectorsIn(expr)) {
    if (s.metric === undefined) throw new Error(`selector without a metric name in ${JSON.stringify(expr)}`);
    names.add(s.metric);
  }
  return names;
}

/** Adds `matchers` to every vector selector of `expr`. */
export function withMatchers(expr: string, matchers: readonly string[]): string {
  if (matchers.length === 0) return expr;
  const edits = descendants(parsePromql(expr), "VectorSelector").map((node) => {
    const list = node.getChild("LabelMatchers");
    if (!list) {
      const id = node.getChild("Identifier");
      if (!id) throw new Error(`selector without a name in ${expr}`);
      return { at: id.to, text: `{${matchers.join(", ")}}` };
    }
    const inside = expr.slice(list.from + 1, list.to - 1).trim();
    return { at: list.to - 1, text: `${inside === "" ? "" : ", "}${matchers.join(", ")}` };
  });
  let out = expr;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.text + out.slice(e.at);
  return out;
}

// ---------------------------------------------------------------------------
// Selectors that match nothing

/**
 * A selector that matches no stored series whatever the data: one of its
 * matchers is on a label no series carries (Prometheus drops every label
 * whose name starts with `__`, the metric name aside, before storing a
 * series, so such a label reads as the empty string) and refuses the empty
 * string. Prometheus answers it from the index, reading no sample.
 */
export function matchesNothing(selector: SelectorInfo): boolean {
  return selector.parts.some((p) => {
    if (!p.label.startsWith("__") || p.label === "__name__") return false;
    const empty = p.op === "=" || p.op === "!=" ? p.value === "" : new RegExp(`^(?:${p.value})$`).test("");
    return p.op === "=" || p.op === "=~" ? !empty : empty;
  });
}

/**
 * The part of a query that serves it: the operands of a top-level `or`
 * whose selectors can match something (see `matchesNothing`); the query
 * itself when it is no `or`, or when no operand can be dropped.
 */
export function servedOperands(expr: string): string[] {
  const operands: string[] = [];
  const split = (node: SyntaxNode) => {
    const left = node.firstChild;
    const right = node.lastChild;
    if (node.name !== "BinaryExpr" || node.getChild("Or") === null || !left || !right) return operands.push(expr.slice(node.from, node.to));
    split(left);
    split(right);
  };
  const top = parsePromql(expr).firstChild;
  if (!top) return [expr];
  split(top);
  const served = operands.filter((o) => !selectorsIn(o).some(matchesNothing));
  return served.length === 0 ? [expr] : served;
}
