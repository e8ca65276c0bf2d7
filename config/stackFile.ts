/**
 * `Pulumi.<stack>.yaml` as the Pulumi CLI stores it: `config:` maps
 * `<namespace>:<key>` to a value, and `{secure: <ciphertext>}` marks a value
 * held encrypted (a whole key, or one entry set with `--secret --path`).
 * Read by the offline render, and by the program for what the engine does not
 * pass on: which entries of a key are encrypted.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { ConfigError, type ConfigProblem } from "./errors";

/**
 * The `config:` map of a stack file, values as written (encrypted ones still
 * `{secure: …}`). Throws a {@link ConfigError} naming the config key path for
 * a key written twice, a key without a namespace, or YAML that does not
 * parse; messages carry line numbers and key names, never the file's text
 * (which may hold secrets in clear).
 */
export function readStackFileConfig(path: string): Record<string, unknown> {
  const file = basename(path);
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(path, "utf8"), { uniqueKeys: false, prettyErrors: false, lineCounter: lines });
  const line = (offset: number) => lines.linePos(offset).line;
  const problems: ConfigProblem[] = doc.errors.map((error) => ({
    path: file,
    message: `is not valid YAML at line ${line(error.pos[0])}: ${error.message} (${error.code})`,
  }));
  if (problems.length === 0) problems.push(...duplicateKeys(doc.contents, [], file, line));
  if (problems.length > 0) throw new ConfigError(problems);

  const value: unknown = doc.toJS() ?? {};
  const config = typeof value === "object" && value !== null ? ((value as { config?: unknown }).config ?? {}) : undefined;
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ConfigError([{ path: `${file}: config`, message: "must be a map of `<namespace>:<key>` to values" }]);
  }
  const bare = Object.keys(config).filter((key) => !key.includes(":"));
  if (bare.length > 0) {
    throw new ConfigError(
      bare.map((key) => ({ path: key, message: `has no namespace; config keys are \`<namespace>:<key>\`, e.g. infermesh:${key} (this project's) or aws:${key} (a provider's)` })),
    );
  }
  return config as Record<string, unknown>;
}

/** `{secure: …}`: a value the CLI holds encrypted. */
export function isEncrypted(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 1 && "secure" in value;
}

/** Config paths (`infermesh:secrets.grafanaToken`) of every encrypted value in a stack file. */
export function encryptedValuePaths(path: string): string[] {
  const found: string[] = [];
  const walk = (value: unknown, at: string) => {
    if (isEncrypted(value)) found.push(at);
    else if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${at}.${i}`));
    else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) walk(v, `${at}.${k}`);
  };
  for (const [key, value] of Object.entries(readStackFileConfig(path))) walk(value, key);
  return found;
}

/**
 * Keys written twice in one map, at the config key path they would set
 * (`infermesh:gpuPools.l4.scaling.min`; outside `config:`, the file's own path).
 */
function duplicateKeys(node: Node | null, path: readonly string[], file: string, line: (offset: number) => number): ConfigProblem[] {
  if (isSeq(node)) return node.items.flatMap((item, i) => duplicateKeys(item as Node, [...path, String(i)], file, line));
  if (!isMap(node)) return [];
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const at = isScalar(pair.key) && pair.key.range ? line(pair.key.range[0]) : 0;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, at);
    else {
      const keyPath = [...path, key];
      const shown = keyPath[0] === "config" && keyPath.length > 1 ? keyPath.slice(1).join(".") : `${file}: ${keyPath.join(".")}`;
      problems.push({
        path: shown,
        message: `is written twice in ${file} (lines ${first} and ${at}); a key may appear once in a map, and YAML readers disagree on which one wins`,
      });
    }
    problems.push(...duplicateKeys(pair.value as Node | null, [...path, key], file, line));
  }
  return problems;
}
