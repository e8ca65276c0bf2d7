/**
 * Prometheus relabeling as a pure function, so the backfill path stores the
 * labels the stack's own rules (components/scrapeJobs.ts) give a series,
 * exactly as a scrape would. Semantics of Prometheus' model/relabel package:
 * source labels joined by the separator (default `;`), the regex anchored
 * (`^(?:regex)$`, default `(.*)`), `$1`/`${1}` in replacement and target
 * label, a replacement that expands to nothing deletes the target label.
 */
import { createHash } from "node:crypto";
import type { RelabelRule } from "../components/scrapeJobs";

/** A rule as the stack writes it, plus `hashmod`'s modulus (prometheus-operator's `modulus`). */
export interface Relabeling extends Omit<RelabelRule, "action"> {
  action?: RelabelRule["action"] | "hashmod";
  modulus?: number;
}

export type LabelSet = Readonly<Record<string, string>>;

const anchored = new Map<string, RegExp>();
function anchor(regex: string): RegExp {
  let r = anchored.get(regex);
  if (!r) {
    r = new RegExp(`^(?:${regex})$`);
    anchored.set(regex, r);
  }
  return r;
}

/** Go's `Regexp.Expand` as Prometheus uses it: `$1`, `${1}`, `${name}`; `$$` is a literal `$`. */
function expand(template: string, match: RegExpExecArray): string {
  return template.replace(/\$(\$|\{(\w+)\}|(\d+)|(\w+))/g, (_all, dollar: string, braced?: string, digits?: string, word?: string) => {
    if (dollar === "$") return "$";
    const ref = braced ?? digits ?? word ?? "";
    const value = /^\d+$/.test(ref) ? match[Number(ref)] : match.groups?.[ref];
    return value ?? "";
  });
}

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** `hashmod`: the low 8 bytes of the MD5 of the joined value, big-endian, modulo `modulus`. */
function hashmod(value: string, modulus: number): string {
  const digest = createHash("md5").update(value).digest();
  return (digest.readBigUInt64BE(8) % BigInt(modulus)).toString();
}

/**
 * Applies `rules` in order to `labels`; undefined when a `keep`/`drop` rule
 * drops the target or series. Labels with an empty value are absent.
 */
export function applyRelabelings(labels: LabelSet, rules: readonly Relabeling[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== "") out[k] = v;
  for (const rule of rules) {
    const action = rule.action ?? "replace";
    const regex = anchor(rule.regex ?? "(.*)");
    const value = (rule.sourceLabels ?? []).map((name) => out[name] ?? "").join(rule.separator ?? ";");
    switch (action) {
      case "keep":
        if (!regex.test(value)) return undefined;
        break;
      case "drop":
        if (regex.test(value)) return undefined;
        break;
      case "replace": {
        const match = regex.exec(value);
        if (!match) break;
        const target = expand(rule.targetLabel ?? "", match);
        if (!labelName.test(target)) break;
        const replacement = expand(rule.replacement ?? "$1", match);
        if (replacement === "") delete out[target];
        else out[target] = replacement;
        break;
      }
      case "hashmod": {
        if (!rule.targetLabel) throw new Error("hashmod needs a target label");
        if (!(rule.modulus && rule.modulus > 0)) throw new Error(`hashmod needs a positive modulus, got ${String(rule.modulus)}`);
        out[rule.targetLabel] = hashmod(value, rule.modulus);
        break;
      }
      case "labelmap":
        for (const [name, v] of Object.entries(out)) {
          const match = regex.exec(name);
          if (match) out[expand(rule.replacement ?? "$1", match)] = v;
        }
        break;
      case "labeldrop":
        for (const name of Object.keys(out)) if (regex.test(name)) delete out[name];
        break;
      case "labelkeep":
        for (const name of Object.keys(out)) if (!regex.test(name)) delete out[name];
        break;
      default:
        throw new Error(`unsupported relabel action ${String(action satisfies never)}`);
    }
  }
  for (const [k, v] of Object.entries(out)) if (v === "") delete out[k];
  return out;
}

/** A rule from a rendered Prometheus `relabel_configs` entry (snake_case), as `scrapeConfig` writes it. */
export function fromPrometheusRelabel(entry: Readonly<Record<string, unknown>>): Relabeling {
  const known: Record<string, keyof Relabeling> = {
    action: "action",
    source_labels: "sourceLabels",
    separator: "separator",
    regex: "regex",
    target_label: "targetLabel",
    replacement: "replacement",
    modulus: "modulus",
  };
  const rule: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    const name = known[key];
    if (!name) throw new Error(`relabel field ${key} is not supported (supported: ${Object.keys(known).join(", ")})`);
    rule[name] = value;
  }
  return rule as Relabeling;
}
