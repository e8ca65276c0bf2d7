import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { configPath, projectNamespace } from "../config/errors";

// Import cycles (config/ included) are checked for the whole tree in test/layers.test.ts.
describe("config keys", () => {
  it("are named under the namespace the program reads them from (the project's name in Pulumi.yaml)", () => {
    const project = (parseYaml(readFileSync(join(__dirname, "..", "Pulumi.yaml"), "utf8")) as { name: string }).name;
    expect(projectNamespace).toBe(project);
    expect(configPath(["gpuPools", "l4", "scaling"])).toBe(`${project}:gpuPools.l4.scaling`);
  });
});
