import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importCycles, layerViolations, loadedWith, readImportGraph, type ImportEdge, type ImportGraph, type Layers } from "../tools/importGraph";

const root = join(__dirname, "..");

/**
 * Lowest first. Generic helpers; pure domain tables; the metric contract;
 * dashboards; alerts (whose absence alert names the panels that read each
 * metric); config (validated against all of the above); Pulumi components; the
 * program; and the tools that render, simulate, check and measure it.
 */
const layers: Layers = [
  ["lib", "cli"],
  ["domain"],
  ["monitoring"],
  ["dashboards"],
  ["alerts"],
  ["config"],
  ["components"],
  ["cost"],
  ["program.ts", "index.ts"],
  ["synth"],
  ["sim", "tools", "policy", "lifecycle", "review"],
  ["verify", "bench"],
  ["preview"],
  ["scripts"],
];

/**
 * Folders whose code is tooling: it renders, serves or measures the stack, and
 * must not need a Pulumi provider SDK to do it. (The policy pack is not one: it
 * runs in Pulumi's policy runtime, against provider resource types.)
 */
const tools = ["synth", "sim", "verify", "bench", "tools", "scripts", "lifecycle", "review", "preview"];
/** Tool files that exist to run the real program under the mock runtime. */
const runsTheProgram = new Set(["scripts/bench-worker.ts"]);
/** Provider SDKs: loading one is what a Pulumi component module does and a pure module must not. */
const providerSdks = ["@pulumi/aws", "@pulumi/kubernetes", "@pulumi/random", "@pulumiverse/grafana"];

const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"], { cwd: root, encoding: "utf8" }).split("\n");
const sourceFiles = [...new Set(listed)].filter((f) => f.endsWith(".ts") && !f.startsWith("test/") && !f.startsWith("node_modules/") && existsSync(join(root, f)));
const graph = readImportGraph(root, sourceFiles);

const edge = (to: string, extra: Partial<ImportEdge> = {}): ImportEdge => ({ to, typeOnly: false, dynamic: false, ...extra });
const graphOf = (entries: Record<string, ImportEdge[]>): ImportGraph => new Map(Object.entries(entries));
const loadsProviderSdk = (file: string) => (graph.get(file) ?? []).some((e) => !e.typeOnly && !e.dynamic && providerSdks.includes(e.to));

describe("import graph checks", () => {
  const small: Layers = [["domain"], ["components"], ["scripts"]];
  it.each<{ name: string; entries: Record<string, ImportEdge[]>; violations: string[] }>([
    { name: "downward import", entries: { "components/a.ts": [edge("domain/b.ts")], "domain/b.ts": [] }, violations: [] },
    {
      name: "upward import, type-only included",
      entries: { "domain/b.ts": [edge("components/a.ts", { typeOnly: true })], "components/a.ts": [] },
      violations: ["domain/b.ts → components/a.ts (domain may not import components)"],
    },
    { name: "a folder in no layer", entries: { "misc/x.ts": [] }, violations: ["misc/x.ts: misc/ is in no layer; add it to the layers"] },
    { name: "packages are not layered", entries: { "domain/b.ts": [edge("@pulumi/aws")] }, violations: [] },
  ])("layers: $name", ({ entries, violations }) => {
    expect(layerViolations(graphOf(entries), small)).toEqual(violations);
  });

  it.each<{ name: string; entries: Record<string, ImportEdge[]>; cycles: string[][] }>([
    { name: "none", entries: { "a.ts": [edge("b.ts")], "b.ts": [] }, cycles: [] },
    { name: "two files, one import type-only", entries: { "a.ts": [edge("b.ts")], "b.ts": [edge("a.ts", { typeOnly: true })] }, cycles: [["a.ts", "b.ts"]] },
    { name: "three files", entries: { "a.ts": [edge("b.ts")], "b.ts": [edge("c.ts")], "c.ts": [edge("a.ts")] }, cycles: [["a.ts", "b.ts", "c.ts"]] },
    { name: "a file importing itself", entries: { "a.ts": [edge("a.ts")] }, cycles: [["a.ts"]] },
  ])("cycles: $name", ({ entries, cycles }) => {
    expect(importCycles(graphOf(entries))).toEqual(cycles);
  });

  it("follows only imports that load: type-only and dynamic imports are not loaded with the module", () => {
    const g = graphOf({
      "a.ts": [edge("b.ts"), edge("c.ts", { typeOnly: true }), edge("d.ts", { dynamic: true })],
      "b.ts": [edge("e.ts")],
      "c.ts": [edge("f.ts")],
      "d.ts": [],
      "e.ts": [],
      "f.ts": [],
    });
    expect([...loadedWith(g, "a.ts")].sort()).toEqual(["b.ts", "e.ts"]);
  });
});

describe("the repository's imports", () => {
  it("reads every source file, with the imports it has", () => {
    expect(graph.get("index.ts")?.map((e) => e.to)).toEqual(expect.arrayContaining(["config/load.ts", "program.ts"]));
    expect(graph.size).toBe(sourceFiles.length);
  });

  it("import one way: each file only from its own layer or below", () => {
    expect(layerViolations(graph, layers)).toEqual([]);
  });

  it("have no cycle, type-only imports included", () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it("keep the policy pack self-contained (it is published as a package of its own)", () => {
    for (const file of ["policy/index.ts", "policy/policies.ts"]) {
      const ours = (graph.get(file) ?? []).filter((e) => graph.has(e.to));
      expect(
        ours.every((e) => e.to.startsWith("policy/")),
        `${file} imports ${ours.map((e) => e.to).join(", ")}`,
      ).toBe(true);
    }
  });

  it("never load a Pulumi provider SDK from the tools, except to run the program itself", () => {
    const offenders = [...graph.keys()]
      .filter((f) => tools.some((t) => f.startsWith(`${t}/`)) && !runsTheProgram.has(f))
      .flatMap((f) => [...loadedWith(graph, f), f].filter(loadsProviderSdk).map((m) => `${f} loads ${m}`));
    expect(offenders).toEqual([]);
  });

  it("keep the pure layers free of provider SDKs", () => {
    const pure = [...graph.keys()].filter((f) => ["lib", "cli", "domain", "monitoring", "dashboards", "alerts", "config"].some((u) => f.startsWith(`${u}/`)));
    expect(pure.flatMap((f) => [...loadedWith(graph, f), f].filter(loadsProviderSdk).map((m) => `${f} loads ${m}`))).toEqual([]);
  });

  it("keep each component's plan and Helm values pure (<component>.plan.ts, <component>.values.ts)", () => {
    const pure = [...graph.keys()].filter((f) => /^components\/[^/]+\.(plan|values)\.ts$/.test(f));
    expect(pure.length).toBeGreaterThan(0);
    expect(pure.flatMap((f) => [...loadedWith(graph, f), f].filter(loadsProviderSdk).map((m) => `${f} loads ${m}`))).toEqual([]);
  });
});
