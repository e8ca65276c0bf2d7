/** Prometheus durations: `30s`, `5m`, `1h30m`, `15d`. */

const durationUnits: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds in a Prometheus duration (`"5m"`, `"1h30m"`, `"0s"`). */
export function durationSeconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== duration) {
    throw new Error(`${JSON.stringify(duration)} is not a Prometheus duration`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (durationUnits[p[2] as string] as number), 0);
}

/** A promtool duration for whole seconds: `330` → `"5m30s"`. */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`cannot format ${seconds} s as a promtool eval_time`);
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ""}${m > 0 ? `${m}m` : ""}${s > 0 ? `${s}s` : ""}`;
}
