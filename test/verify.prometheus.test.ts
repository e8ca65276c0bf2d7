import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dcgmFamilies } from "../sim/exporters/dcgm";
import type { FixtureGpu } from "../sim/model";
import { renderExposition, startExpositionServer, type ExpositionServer } from "../sim/exposition";
import { promtool, requireBinary, startPrometheus, type PrometheusServer } from "../verify/prometheus";

const gpus: FixtureGpu[] = [
  { node: "gpu-node-a", index: 0, uuid: "GPU-aaaaaaaa-0000-0000-0000-000000000000", modelName: "NVIDIA H100 80GB HBM3" },
  {
    node: "gpu-node-a",
    index: 1,
    uuid: "GPU-bbbbbbbb-0000-0000-0000-000000000000",
    modelName: "NVIDIA H100 80GB HBM3",
    mig: { profile: "1g.10gb", instance: 7 },
    pod: { namespace: "serving", pod: "llama-0", container: "runtime", labels: { "infermesh.io/model": "llama-3-8b" } },
  },
];
const fields = [
  { name: "DCGM_FI_DEV_FB_USED", type: "gauge", help: "Framebuffer memory used (in MiB)." },
  { name: "DCGM_FI_DEV_GPU_TEMP", type: "gauge", help: "GPU temperature (in C)." },
] as const;

/** What the fixture exporter serves; tests change it between scrapes. */
let fbUsed = 1234;
const values = (field: string, gpu: FixtureGpu): number | undefined => {
  if (field === "DCGM_FI_DEV_FB_USED") return gpu.mig ? 9000 : fbUsed;
  if (field === "DCGM_FI_DEV_GPU_TEMP") return 85;
  return undefined;
};

const ruleFile = YAML.stringify({
  groups: [
    {
      name: "fixture",
      interval: "1s",
      rules: [
        { record: "node:dcgm_fb_used:sum", expr: "sum by (node) (DCGM_FI_DEV_FB_USED)" },
        { alert: "GpuHot", expr: "DCGM_FI_DEV_GPU_TEMP > 80", labels: { severity: "warning" } },
      ],
    },
  ],
});

function scrapeConfig(port: number): object {
  return {
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    rule_files: ["rules/fixture.yml"],
    scrape_configs: [
      {
        job_name: "dcgm",
        static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { zone: "us-west-2a" } }],
        metric_relabel_configs: [
          { source_labels: ["Hostname"], target_label: "node" },
          { source_labels: ["UUID"], target_label: "gpu_uuid" },
          { regex: "Hostname|UUID", action: "labeldrop" },
        ],
      },
    ],
  };
}

describe("requireBinary", () => {
  it("finds the installed binaries by absolute path", () => {
    for (const name of ["prometheus", "promtool", "amtool"] as const) {
      const path = requireBinary(name);
      expect(isAbsolute(path)).toBe(true);
      expect(path.endsWith(`/${name}`)).toBe(true);
    }
  });

  it("names the Debian package when a binary is missing", () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent-verify-path";
    try {
      expect(() => requireBinary("promtool")).toThrow(/promtool is missing.*apt-get install prometheus`/);
      expect(() => requireBinary("amtool")).toThrow(/apt-get install prometheus-alertmanager/);
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe("startPrometheus against a dcgm-exporter fixture", () => {
  let exporter: ExpositionServer;
  let prom: PrometheusServer;

  beforeAll(async () => {
    exporter = await startExpositionServer({
      "/metrics": () => renderExposition(dcgmFamilies(gpus, values, { hostnameLabel: "Hostname", fields: [...fields] })),
    });
    prom = await startPrometheus({ config: scrapeConfig(exporter.port), files: { "rules/fixture.yml": ruleFile } });
  });

  afterAll(async () => {
    await prom?.stop();
    await exporter?.stop();
  });

  it("scrapes the target with its static label", async () => {
    expect(prom.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await prom.waitFor(async () => (await prom.targets()).some((t) => t.health === "up"), "the dcgm target to be up", 10_000);
    const [target] = await prom.targets();
    expect(target?.labels).toMatchObject({ job: "dcgm", zone: "us-west-2a", instance: `127.0.0.1:${exporter.port}` });
    expect(target?.lastError).toBe("");
  });

  it("stores the fixture series with the config's relabeling applied", async () => {
    await prom.waitFor(async () => (await prom.query("DCGM_FI_DEV_FB_USED")).length === 2, "both FB_USED series", 10_000);
    const [sample, ...rest] = await prom.query('DCGM_FI_DEV_FB_USED{GPU_I_ID="7"}');
    expect(rest).toEqual([]);
    expect(sample?.value[1]).toBe("9000");
    expect(sample?.metric).toEqual({
      __name__: "DCGM_FI_DEV_FB_USED",
      job: "dcgm",
      instance: `127.0.0.1:${exporter.port}`,
      zone: "us-west-2a",
      gpu: "1",
      gpu_uuid: "GPU-bbbbbbbb-0000-0000-0000-000000000000",
      pci_bus_id: "00000000:2A:00.0",
      device: "nvidia1",
      modelName: "NVIDIA H100 80GB HBM3",
      GPU_I_PROFILE: "1g.10gb",
      GPU_I_ID: "7",
      node: "gpu-node-a",
      DCGM_FI_DRIVER_VERSION: "550.144.03",
      infermesh_io_model: "llama-3-8b",
      container: "runtime",
      namespace: "serving",
      pod: "llama-0",
    });
    expect(await prom.query('count({__name__=~"DCGM_.*", Hostname!=""}) or vector(0)')).toEqual([{ metric: {}, value: [expect.any(Number), "0"] }]);
  });

  it("sees a value the exporter changes between scrapes, in instant and range queries", async () => {
    fbUsed = 4321;
    const wholeGpu = 'DCGM_FI_DEV_FB_USED{gpu_uuid="GPU-aaaaaaaa-0000-0000-0000-000000000000"}';
    await prom.waitFor(async () => (await prom.query(wholeGpu))[0]?.value[1] === "4321", "the new FB_USED value", 10_000);
    const now = Date.now() / 1000;
    const series = await prom.queryRange(wholeGpu, now - 60, now, 1);
    expect(series).toHaveLength(1);
    const seen = new Set(series[0]?.values.map(([, v]) => v));
    expect(seen).toEqual(new Set(["1234", "4321"]));
  });

  it("loads rule files written next to prometheus.yml and evaluates them", async () => {
    const groups = await prom.rules();
    expect(groups.map((g) => [g.name, g.rules.map((r) => [r.type, r.name])])).toEqual([
      [
        "fixture",
        [
          ["recording", "node:dcgm_fb_used:sum"],
          ["alerting", "GpuHot"],
        ],
      ],
    ]);
    await prom.waitFor(
      async () => (await prom.alerts()).filter((a) => a.labels.alertname === "GpuHot" && a.state === "firing").length === 2,
      "GpuHot to fire for both GPUs",
      10_000,
    );
    await prom.waitFor(async () => (await prom.query("node:dcgm_fb_used:sum")).length === 1, "the recording rule", 10_000);
  });

  it("throws Prometheus's error text for a bad query and bounds waitFor", async () => {
    await expect(prom.query("sum(")).rejects.toThrow(/bad_data.*parse error/);
    await expect(prom.waitFor(async () => false, "nothing", 300)).rejects.toThrow(/^timed out waiting for nothing/);
  });
});

describe("startPrometheus lifecycle", () => {
  it("stop() ends the process and removes the temp dir", async () => {
    const prom = await startPrometheus({ config: { global: { scrape_interval: "1s" } } });
    expect(existsSync(join(prom.dir, "prometheus.yml"))).toBe(true);
    await prom.stop();
    expect(existsSync(prom.dir)).toBe(false);
    await expect(fetch(`${prom.url}/-/ready`)).rejects.toThrow();
    await prom.stop();
  });

  it("fails with the process's stderr when Prometheus rejects its config", async () => {
    await expect(startPrometheus({ config: { global: { scrape_interval: "banana" } } })).rejects.toThrow(/prometheus exited early[\s\S]*banana/);
  });

  it("refuses extra file names outside its dir", async () => {
    await expect(startPrometheus({ config: {}, files: { "../escape.yml": "" } })).rejects.toThrow(/must be relative/);
  });
});

describe("promtool", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "verify-promtool-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("check config passes a valid config with its rule file", async () => {
    await writeFile(join(dir, "rules.yml"), ruleFile);
    await writeFile(join(dir, "valid.yml"), YAML.stringify({ ...scrapeConfig(9400), rule_files: ["rules.yml"] }));
    const result = await promtool(["check", "config", "valid.yml"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("SUCCESS");
  });

  it("check config fails an invalid config without throwing", async () => {
    await writeFile(join(dir, "invalid.yml"), YAML.stringify({ scrape_configs: [{ job_name: "x", scrape_interval: "banana" }] }));
    const result = await promtool(["check", "config", "invalid.yml"], { cwd: dir });
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/FAILED[\s\S]*banana/);
  });

  it("reads stdin: check metrics lints rendered exposition", async () => {
    const text = renderExposition([{ name: "requests_total", help: "Requests.", type: "counter", samples: [{ labels: [], value: 1 }] }]);
    const result = await promtool(["check", "metrics"], { input: text });
    expect(result.code, result.stderr).toBe(0);
  });
});
