import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { configPath, projectNamespace } from "../config/errors";

const root = join(__dirname, "..");
const configDir = join(root, "config");

/** Imports (type-only ones too: they tie the modules as much) between files of config/. */
function localImports(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(configDir).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(configDir, file), "utf8");
    const targets = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"\.\/([\w.-]+)"/gms)].map((m) => `${m[1]}.ts`);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle, as the files on it (each found once, from its first file in name order). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found = new Set<string>();
  const walk = (start: string, at: string, path: string[]) => {
    for (const next of graph.get(at) ?? []) {
      if (next === start) found.add([...path].join(" -> "));
      else if (!path.includes(next) && next > start) walk(start, next, [...path, next]);
    }
  };
  for (const file of [...graph.keys()].sort()) walk(file, file, [file]);
  return [...found].sort().map((c) => c.split(" -> "));
}

describe("config/ structure", () => {
  it("finds the imports it checks", () => {
    expect(localImports().get("index.ts")).toContain("rules.ts");
  });

  it("has no import cycle between its files, type-only imports included", () => {
    expect(cycles(localImports())).toEqual([]);
  });

  it("names keys under the namespace the program reads them from (the project's name in Pulumi.yaml)", () => {
    const project = (parseYaml(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name;
    expect(projectNamespace).toBe(project);
    expect(configPath(["gpuPools", "l4", "scaling"])).toBe(`${project}:gpuPools.l4.scaling`);
  });
});
