/**
 * Nested values flattened to `path → leaf`, with list elements named by what
 * they are rather than where they sit: `policies[contactPoint=warning]`,
 * `matchers[label=severity].value`, `taints[key=nvidia.com/gpu].effect`. A
 * list whose elements share no unique key is keyed by each element's content,
 * so removing one element reads as that element removed, never as every later
 * one changed. Lists of scalars are one leaf (`["a","b"]`): their order is
 * usually meaningful and they read best whole. A document inside a string
 * (an IAM policy's JSON, a ConfigMap's YAML) is flattened as the value it
 * encodes, under `path{}`.
 */
import { createHash } from "node:crypto";
import { parse } from "yaml";

/** Fields that name a list element, in the order they are tried. */
const keyFields = ["name", "key", "label", "contactPoint", "uid", "id", "refId", "title", "record", "alert", "deviceName", "Sid", "resourceType"] as const;

/** Content keys longer than this are cut (and made unique by a digest). */
const contentKeyLength = 60;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function segment(key: string): string {
  return /^[\w-]+$/.test(key) ? key : JSON.stringify(key);
}

/** How the elements of a list are named: one field unique across them, or their content. */
export function elementKeys(items: readonly unknown[]): string[] {
  if (items.every(isObject)) {
    for (const field of keyFields) {
      const values = items.map((item) => item[field]);
      if (values.every((v) => typeof v === "string" || typeof v === "number") && new Set(values).size === items.length) {
        return values.map((v) => `${field}=${String(v)}`);
      }
    }
  }
  // Long content is cut for the reader, with a digest of the whole so two elements cannot share a name.
  const seen = new Map<string, number>();
  return items.map((item) => {
    // Brackets inside a name would read as list elements of their own.
    const full = JSON.stringify(item).replace(/\[/g, "(").replace(/\]/g, ")");
    const text = full.length <= contentKeyLength ? full : `${full.slice(0, contentKeyLength)}…#${createHash("sha256").update(full).digest("hex").slice(0, 8)}`;
    const n = (seen.get(text) ?? 0) + 1;
    seen.set(text, n);
    return n === 1 ? text : `${text}#${n}`;
  });
}

/** The object or list a string encodes (JSON, or YAML over several lines), else undefined. */
function parsedDocument(text: string): unknown {
  const trimmed = text.trim();
  if (!(trimmed.startsWith("{") || trimmed.includes("\n"))) return undefined;
  try {
    const value = parse(trimmed) as unknown;
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

export function flattenKeyed(value: unknown, path = "", out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    if (value.length === 0 || value.every((v) => !isObject(v) && !Array.isArray(v))) {
      out.set(path, JSON.stringify(value));
      return out;
    }
    const keys = elementKeys(value);
    value.forEach((item, i) => flattenKeyed(item, `${path}[${keys[i]}]`, out));
  } else if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0 && path) out.set(path, "{}");
    for (const [key, child] of entries) flattenKeyed(child, path ? `${path}.${segment(key)}` : segment(key), out);
  } else {
    const document = typeof value === "string" ? parsedDocument(value) : undefined;
    if (document !== undefined) flattenKeyed(document, `${path}{}`, out);
    else out.set(path, JSON.stringify(value ?? null));
  }
  return out;
}

export interface LeafChange {
  path: string;
  /** JSON text of the leaf, or undefined when it is new/gone. */
  before?: string;
  after?: string;
  /** A list element added or removed whole (no `before`/`after` then), and how many values it holds. */
  element?: "added" | "removed";
  values?: number;
}

/** Whether `path` is `prefix` or lies under it: `prefix.x`, `prefix[k]`, `prefix{}`. */
export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || (path.startsWith(prefix) && ".[{".includes(path[prefix.length] as string));
}

/** The list elements a path passes through, outermost first: `a[k=1].b[k=2].c` → `a[k=1]`, `a[k=1].b[k=2]`. */
function elementPrefixes(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '"' && path[i - 1] !== "\\") quoted = !quoted;
    if (quoted) continue;
    if (c === "[") depth++;
    else if (c === "]" && --depth === 0) out.push(path.slice(0, i + 1));
  }
  return out;
}

/**
 * Every leaf that differs, sorted by path; a list element added or removed
 * whole is one change (`policies[contactPoint=warning]`, its leaves counted)
 * rather than one per leaf.
 */
export function leafChanges(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): LeafChange[] {
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const under = (m: ReadonlyMap<string, string>, prefix: string) => [...m.keys()].filter((k) => isUnder(k, prefix)).length;
  const out: LeafChange[] = [];
  const done = new Set<string>();
  for (const path of paths) {
    if (before.get(path) === after.get(path)) continue;
    const whole = elementPrefixes(path).find((prefix) => under(before, prefix) === 0 || under(after, prefix) === 0);
    if (whole === undefined) {
      out.push({ path, ...(before.has(path) ? { before: before.get(path) as string } : {}), ...(after.has(path) ? { after: after.get(path) as string } : {}) });
    } else if (!done.has(whole)) {
      done.add(whole);
      const was = under(before, whole);
      out.push(was > 0 ? { path: whole, element: "removed", values: was } : { path: whole, element: "added", values: under(after, whole) });
    }
  }
  return out;
}
