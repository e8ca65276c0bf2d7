/**
 * Deterministic names and numbers for the synthetic fleet: every name, uid and
 * GPU UUID is a hash of a stable key (never of a list position alone), so the
 * same stack and shape give the same fleet, on any machine.
 */
import { createHash } from "node:crypto";

export function digest(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

/** Kubernetes' random-suffix alphabet (no vowels, no confusable digits). */
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";

export function suffix(seed: string, length: number): string {
  const hex = digest(seed);
  let out = "";
  for (let i = 0; i < length; i++) out += suffixAlphabet[parseInt(hex.slice(i * 2, i * 2 + 2), 16) % suffixAlphabet.length];
  return out;
}

/** A Kubernetes object uid. */
export function podUid(seed: string): string {
  const h = digest(`uid/${seed}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function gpuUuid(seed: string): string {
  const h = digest(seed);
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** EC2's private DNS name for an address in the region. */
export function ec2Name(region: string, address: readonly number[]): string {
  const domain = region === "us-east-1" ? "ec2.internal" : `${region}.compute.internal`;
  return `ip-${address.join("-")}.${domain}`;
}
