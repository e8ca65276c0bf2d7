import { readFileSync } from "node:fs";
import { parse } from "yaml";

/** Placeholder for a `secure:` value, which cannot be decrypted without the stack's secrets provider. */
export const encryptedPlaceholder = "synth-placeholder-for-encrypted-value";

export interface StackFileConfig {
  config: Record<string, string>;
  secretKeys: string[];
}

/**
 * Reads `Pulumi.<stack>.yaml` into the form `pulumi.runtime.setAllConfig`
 * takes: structured values as JSON text, encrypted values as a placeholder
 * marked secret (so the program treats them exactly as it would a real secret).
 */
export function readStackFile(path: string): StackFileConfig {
  const doc = (parse(readFileSync(path, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (isEncrypted(value)) {
      config[key] = encryptedPlaceholder;
      secretKeys.push(key);
    } else {
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return { config, secretKeys };
}

function isEncrypted(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 1 && "secure" in value;
}
