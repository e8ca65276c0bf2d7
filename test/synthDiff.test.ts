import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { readRender, summarize } from "../synth/diff";

interface Fixture {
  dashboards?: Record<string, object>;
  rules?: Record<string, object>;
  helm?: Record<string, object>;
}

/** An offline render laid out as `npm run synth -- <stack> --out <dir>` writes it. */
function render(fixture: Fixture): string {
  const dir = mkdtempSync(join(tmpdir(), "synth-diff-"));
  const write = (sub: string, files: Record<string, object> | undefined, ext: string, text: (v: object) => string) => {
    mkdirSync(join(dir, sub), { recursive: true });
    for (const [name, value] of Object.entries(files ?? {})) writeFileSync(join(dir, sub, `${name}${ext}`), text(value));
  };
  write("grafana/dashboards", fixture.dashboards, ".json", (v) => JSON.stringify(v));
  write("prometheus/rules", fixture.rules, ".yaml", (v) => stringify(v));
  write("helm", fixture.helm, ".yaml", (v) => stringify(v));
  return dir;
}

const overview = (threshold: string, extraPanel = false) => ({
  uid: "im-dev-overview",
  title: "Overview",
  panels: [
    { type: "row", title: "Fleet", panels: [] },
    { type: "timeseries", title: "Queue depth", targets: [{ refId: "A", expr: `sum(queue) > ${threshold}` }] },
    ...(extraPanel ? [{ type: "stat", title: "GPUs", targets: [{ refId: "A", expr: "count(gpu)" }] }] : []),
  ],
});
const rules = (forValue: string, withWarning = true) => ({
  groups: [
    {
      name: "infermesh-gpu",
      rules: [
        { alert: "InfermeshGpuNearOom", expr: "vram > 0.9", for: forValue, labels: { severity: "critical" } },
        ...(withWarning ? [{ alert: "InfermeshGpuHot", expr: "temp > 85", for: "5m", labels: { severity: "warning" } }] : []),
      ],
    },
  ],
});
const base: Fixture = { dashboards: { overview: overview("10") }, rules: { infermesh: rules("2m") }, helm: { "dcgm-exporter": { arguments: ["-c", "30000"] } } };

describe("synth diff", () => {
  it("says so when nothing changed", () => {
    expect(summarize("dev", readRender(render(base)), readRender(render(base)))).toBe(
      ["<!-- synth-diff:dev -->", "### Synth diff: `dev`", "", "No changes to dashboards, alert rules or Helm values."].join("\n"),
    );
  });

  it.each<{ name: string; head: Fixture; lines: string[] }>([
    {
      name: "a changed panel query",
      head: { ...base, dashboards: { overview: overview("20") } },
      lines: ["- dashboard `im-dev-overview` (Overview)", "  - panel `Queue depth` query A: `sum(queue) > 10` → `sum(queue) > 20`"],
    },
    { name: "an added panel", head: { ...base, dashboards: { overview: overview("10", true) } }, lines: ["- dashboard `im-dev-overview` (Overview)", "  - added panel `GPUs`"] },
    { name: "a changed rule", head: { ...base, rules: { infermesh: rules("5m") } }, lines: ["- alert `InfermeshGpuNearOom` (group infermesh-gpu): for 2m → 5m"] },
    { name: "a removed rule", head: { ...base, rules: { infermesh: rules("2m", false) } }, lines: ["- removed alert `InfermeshGpuHot` (group infermesh-gpu)"] },
    {
      name: "a changed Helm value",
      head: { ...base, helm: { "dcgm-exporter": { arguments: ["-c", "15000"] } } },
      lines: ["- release `dcgm-exporter`", '  - `arguments[1]`: `"30000"` → `"15000"`'],
    },
  ])("reports $name by name", ({ head, lines }) => {
    const text = summarize("dev", readRender(render(base)), readRender(render(head)));
    for (const line of lines) expect(text.split("\n")).toContain(line);
    expect(text).not.toContain("No changes");
  });
});
