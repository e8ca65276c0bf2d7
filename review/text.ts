/** How the review writes values: code spans, counts, and one changed value. */
import type { LeafChange } from "./keyed";
import { changedSpan } from "./rules";

/** Inline code, on one line, that a backtick inside cannot end. */
export const code = (text: string) => `\`${text.replace(/`/g, "'").replace(/\s+/g, " ")}\``;

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Values longer than this show the part that changed (the full review's diff shows the whole). */
const longValue = 120;

const leaf = (json: string | undefined) => (json === undefined ? "(none)" : code(json));

/** A JSON string leaf is compared as the text it holds, not as one quoted token. */
function textOf(json: string): string {
  try {
    const value = JSON.parse(json) as unknown;
    return typeof value === "string" ? value : json;
  } catch {
    return json;
  }
}

/**
 * One change as a reader reads it: `before → after`, cut to the part that
 * changed when long (so the change itself is always visible), or a list
 * element added or removed whole with how many values it held.
 */
export function changeText(c: LeafChange): string {
  if (c.element) return `${c.element} (${plural(c.values ?? 0, "value")})`;
  if (c.before !== undefined && c.after !== undefined && (c.before.length > longValue || c.after.length > longValue)) {
    const span = changedSpan(textOf(c.before), textOf(c.after));
    return `${code(span.before)} → ${code(span.after)}`;
  }
  return `${leaf(c.before)} → ${leaf(c.after)}`;
}
