import { isEncrypted, readStackFileConfig } from "../config/stackFile";

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
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(readStackFileConfig(path))) {
    const { value: plain, encrypted } = decryptless(value);
    config[key] = typeof plain === "string" ? plain : JSON.stringify(plain);
    // Like the CLI: a key holding any encrypted value (even nested, set with --path) is secret as a whole.
    if (encrypted) secretKeys.push(key);
  }
  return { config, secretKeys };
}

/** Replaces every `{secure: …}` inside a value with the placeholder and says whether there was one. */
function decryptless(value: unknown): { value: unknown; encrypted: boolean } {
  if (isEncrypted(value)) return { value: encryptedPlaceholder, encrypted: true };
  if (Array.isArray(value)) {
    const items = value.map(decryptless);
    return { value: items.map((i) => i.value), encrypted: items.some((i) => i.encrypted) };
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => [k, decryptless(v)] as const);
    return { value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])), encrypted: entries.some(([, v]) => v.encrypted) };
  }
  return { value, encrypted: false };
}
