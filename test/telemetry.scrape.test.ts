import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { scrapeConfig } from "../components/scrapeJobs";
import { telemetryPlan } from "../components/telemetry.plan";
import { monitoringNamespace } from "../domain/naming";
import { withStaticDiscovery, type DiscoveredPod } from "../sim/discovery";
import { dcgmFamilies } from "../sim/exporters/dcgm";
import type { FixtureGpu } from "../sim/model";
import { renderExposition, startExpositionServer, type ExpositionServer } from "../sim/exposition";
import { promtool, startPrometheus, type InstantSample, type PrometheusServer } from "../verify/prometheus";
import { baseRaw, parse } from "./helpers/stack";

const nodeA = { name: "ip-10-0-1-10.us-west-2.compute.internal", zone: "us-west-2a" };
const nodeB = { name: "ip-10-0-2-20.us-west-2.compute.internal", zone: "us-west-2b" };
const workload = {
  namespace: "serving",
  pod: "agent-gpt-7b-0",
  container: "runtime",
  // Only the labels dcgm-exporter's pod-label allowlist lets through.
  labels: { "infermesh.io/model": "gpt-7b", "infermesh.io/revision": "r3", "infermesh.io/tenant": "acme" },
};

/** Node A runs a 4.8.2 exporter (`Hostname`): one GPU held by a pod, one idle. */
const gpusA: FixtureGpu[] = [
  { node: nodeA.name, index: 0, uuid: "GPU-8b2281de-6d3c-22ed-0ec8-d3b864870b8b", modelName: "NVIDIA L4", pod: workload },
  { node: nodeA.name, index: 1, uuid: "GPU-15338f3e-5fd9-962d-921a-979b820520f0", modelName: "NVIDIA L4" },
];
/** Node B runs a newer exporter (`hostname`): one H100 split into two 1g.10gb instances, one held by a pod. */
const gpusB: FixtureGpu[] = [
  {
    node: nodeB.name,
    index: 0,
    uuid: "GPU-58e8f5ea-13cc-013a-d88f-2bcf5ae8bc77",
    modelName: "NVIDIA H100 80GB HBM3",
    mig: { profile: "1g.10gb", instance: 7 },
    pod: { ...workload, pod: "agent-gpt-7b-1" },
  },
  { node: nodeB.name, index: 0, uuid: "GPU-58e8f5ea-13cc-013a-d88f-2bcf5ae8bc77", modelName: "NVIDIA H100 80GB HBM3", mig: { profile: "1g.10gb", instance: 8 } },
];

const fields = telemetryPlan(parse(baseRaw())).counterFields;

/** Plausible readings; GPU utilization is not reported on MIG instances, as on real hardware. */
function reading(field: string, gpu: FixtureGpu): number | undefined {
  if (field === "DCGM_FI_DEV_GPU_UTIL") return gpu.mig ? undefined : 40 + gpu.index;
  if (field === "DCGM_FI_DEV_FB_TOTAL") return gpu.mig ? 9856 : 22528;
  if (field === "DCGM_FI_DEV_FB_USED") return gpu.mig ? 5000 : 11264;
  return 1;
}

const dcgmPod = (name: string, node: typeof nodeA, server: ExpositionServer, portName = "metrics"): DiscoveredPod => ({
  namespace: monitoringNamespace,
  name,
  nodeName: node.name,
  zone: node.zone,
  labels: { "app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": "dcgm-exporter" },
  container: "exporter",
  portName,
  address: `127.0.0.1:${server.port}`,
});

const infermeshPod = (component: string, partOf: string, server: ExpositionServer): DiscoveredPod => ({
  namespace: "serving",
  name: `${component}-0`,
  nodeName: nodeA.name,
  zone: nodeA.zone,
  labels: { "app.kubernetes.io/part-of": partOf, "app.kubernetes.io/component": component },
  container: component,
  portName: "metrics",
  address: `127.0.0.1:${server.port}`,
});

let servers: ExpositionServer[] = [];
let prometheus: PrometheusServer;

beforeAll(async () => {
  const [exporterA, exporterB, agent, router] = await Promise.all(
    [
      () => renderExposition(dcgmFamilies(gpusA, reading, { hostnameLabel: "Hostname", fields })),
      () => renderExposition(dcgmFamilies(gpusB, reading, { hostnameLabel: "hostname", fields })),
      () =>
        renderExposition([
          {
            name: "infermesh_model_queue_depth",
            help: "Requests waiting.",
            type: "gauge",
            samples: [
              {
                labels: [
                  ["model", "gpt-7b"],
                  ["revision", "r3"],
                  ["quant", "fp16"],
                  ["runtime", "vllm"],
                  ["gpu_uuid", gpusA[0]!.uuid],
                ],
                value: 3,
              },
            ],
          },
        ]),
      () =>
        renderExposition([
          // A router's verdict about another node: its own node/zone labels must survive.
          {
            name: "infermesh_node_healthy",
            help: "Gossip health.",
            type: "gauge",
            samples: [
              {
                labels: [
                  ["node", nodeB.name],
                  ["zone", nodeB.zone],
                ],
                value: 1,
              },
            ],
          },
        ]),
    ].map((body) => startExpositionServer({ "/metrics": body })),
  );
  servers = [exporterA!, exporterB!, agent!, router!];
  const pods = [
    dcgmPod("dcgm-exporter-a", nodeA, exporterA!),
    dcgmPod("dcgm-exporter-b", nodeB, exporterB!),
    dcgmPod("dcgm-exporter-wrong-port", nodeB, exporterB!, "http"),
    infermeshPod("agent", "infermesh", agent!),
    infermeshPod("router", "infermesh", router!),
    infermeshPod("agent", "someone-else", agent!),
  ];
  const scrapeConfigs = telemetryPlan(parse(baseRaw())).jobs.map((job) => ({
    ...withStaticDiscovery(scrapeConfig(job, monitoringNamespace), pods),
    // Same rules, faster clock: the test should not wait for 30 s scrapes.
    scrape_interval: "1s",
  }));
  prometheus = await startPrometheus({ config: { global: { scrape_interval: "1s" }, scrape_configs: scrapeConfigs } });
  await prometheus.waitFor(
    async () => {
      const ready = await Promise.all(["DCGM_FI_DEV_FB_USED", "infermesh_model_queue_depth", "infermesh_node_healthy"].map((m) => prometheus.query(m)));
      return ready[0]!.length === 4 && ready[1]!.length === 1 && ready[2]!.length === 1;
    },
    "every fixture series to be scraped",
    30_000,
  );
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all(servers.map((s) => s.stop()));
});

const labelsOf = (samples: InstantSample[]) =>
  samples
    .map(({ metric }) =>
      Object.fromEntries(
        Object.entries(metric)
          .filter(([k]) => !["__name__", "instance"].includes(k))
          .sort(([a], [b]) => a.localeCompare(b)),
      ),
    )
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe("scraping through the stack's relabeling (real Prometheus)", () => {
  it("scrapes exactly the selected pods on the metrics port", async () => {
    const targets = await prometheus.targets();
    expect(targets.map((t) => [t.labels.job, t.labels.pod ?? null, t.health]).sort()).toEqual(
      [
        ["monitoring/dcgm-exporter", null, "up"],
        ["monitoring/dcgm-exporter", null, "up"],
        ["monitoring/infermesh-agent", "agent-0", "up"],
        ["monitoring/infermesh-router", "router-0", "up"],
      ].sort(),
    );
  });

  it("stores DCGM series with the contract labels and without the exporter's own", async () => {
    const common = { job: "monitoring/dcgm-exporter", endpoint: "metrics" };
    const pod = { namespace: "serving", container: "runtime", model: "gpt-7b", revision: "r3", tenant: "acme" };
    expect(labelsOf(await prometheus.query("DCGM_FI_DEV_FB_USED"))).toEqual(
      labelsOf([
        { metric: { ...common, gpu: "0", gpu_uuid: gpusA[0]!.uuid, gpu_model: "NVIDIA L4", node: nodeA.name, zone: nodeA.zone, ...pod, pod: "agent-gpt-7b-0" }, value: [0, ""] },
        { metric: { ...common, gpu: "1", gpu_uuid: gpusA[1]!.uuid, gpu_model: "NVIDIA L4", node: nodeA.name, zone: nodeA.zone }, value: [0, ""] },
        {
          metric: {
            ...common,
            gpu: "0",
            gpu_uuid: gpusB[0]!.uuid,
            gpu_model: "NVIDIA H100 80GB HBM3",
            node: nodeB.name,
            zone: nodeB.zone,
            mig_profile: "1g.10gb",
            mig_instance: "7",
            ...pod,
            pod: "agent-gpt-7b-1",
          },
          value: [0, ""],
        },
        {
          metric: {
            ...common,
            gpu: "0",
            gpu_uuid: gpusB[0]!.uuid,
            gpu_model: "NVIDIA H100 80GB HBM3",
            node: nodeB.name,
            zone: nodeB.zone,
            mig_profile: "1g.10gb",
            mig_instance: "8",
          },
          value: [0, ""],
        },
      ]),
    );
  });

  it("drops the labels that only add cardinality, on every DCGM series", async () => {
    const series = await prometheus.query('{__name__=~"DCGM_.*"}');
    expect(series.length).toBe(fields.length * 4 - 2); // GPU_UTIL is absent on the two MIG instances
    const dropped = ["Hostname", "hostname", "UUID", "pci_bus_id", "device", "modelName", "GPU_I_PROFILE", "GPU_I_ID", "DCGM_FI_DRIVER_VERSION", "infermesh_io_model"];
    for (const { metric } of series) {
      for (const label of dropped) expect(metric, `${metric.__name__} has ${label}`).not.toHaveProperty(label);
      expect(Object.keys(metric).filter((k) => k.startsWith("exported_"))).toEqual([]);
    }
  });

  it("answers the seed's GPU utilization query verbatim, one series per GPU", async () => {
    const result = await prometheus.query('avg(DCGM_FI_DEV_GPU_UTIL{gpu_uuid!=""}) by (gpu_uuid, node)');
    expect(result.map((s) => [s.metric.gpu_uuid, s.metric.node, s.value[1]]).sort()).toEqual(
      [
        [gpusA[0]!.uuid, nodeA.name, "40"],
        [gpusA[1]!.uuid, nodeA.name, "41"],
      ].sort(),
    );
    // MIG instances report utilization through the profiling field instead.
    const mig = await prometheus.query('DCGM_FI_PROF_GR_ENGINE_ACTIVE{mig_profile!=""}');
    expect(mig.map((s) => [s.metric.mig_profile, s.metric.mig_instance]).sort()).toEqual([
      ["1g.10gb", "7"],
      ["1g.10gb", "8"],
    ]);
  });

  it("answers the VRAM ratio, as written in the seed, per GPU and per MIG instance", async () => {
    const perInstance = await prometheus.query("DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL");
    expect(perInstance.length).toBe(4);
    for (const s of perInstance) {
      expect(s.metric.gpu_uuid).toMatch(/^GPU-/);
      expect([nodeA.name, nodeB.name]).toContain(s.metric.node);
    }
    const panel = await prometheus.query('(avg(DCGM_FI_DEV_FB_USED{gpu_uuid!=""}) by (gpu_uuid)) / (avg(DCGM_FI_DEV_FB_TOTAL{gpu_uuid!=""}) by (gpu_uuid))');
    expect(panel.map((s) => [s.metric.gpu_uuid, Number(s.value[1]).toFixed(3)]).sort()).toEqual(
      [
        [gpusA[0]!.uuid, "0.500"],
        [gpusA[1]!.uuid, "0.500"],
        [gpusB[0]!.uuid, (5000 / 9856).toFixed(3)],
      ].sort(),
    );
  });

  it("gives infermesh series node and zone from discovery only where they have none", async () => {
    const [queue] = await prometheus.query("infermesh_model_queue_depth");
    expect(queue?.metric).toMatchObject({ node: nodeA.name, zone: nodeA.zone, namespace: "serving", pod: "agent-0", model: "gpt-7b", job: "monitoring/infermesh-agent" });
    const [health] = await prometheus.query("infermesh_node_healthy");
    expect(health?.metric).toMatchObject({ node: nodeB.name, zone: nodeB.zone, job: "monitoring/infermesh-router" });
  });
});

describe("rendered scrape configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "infermesh-scrape-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Debian's Prometheus is built without Kubernetes discovery, so promtool
  // checks the rendered jobs with discovery swapped for static pods; the
  // discovery block itself is pinned exactly below.
  const jobs = telemetryPlan(parse({ ...baseRaw(), telemetry: { infermesh: { namespaces: ["serving", "batch"] } } })).jobs;
  const rendered = jobs.map((job) => scrapeConfig(job, monitoringNamespace));

  it("passes promtool check config", async () => {
    const file = join(dir, "prometheus.yml");
    const pod: DiscoveredPod = { namespace: "serving", name: "p", nodeName: "n", zone: "z", labels: {}, container: "c", portName: "metrics", address: "127.0.0.1:9400" };
    writeFileSync(file, stringify({ scrape_configs: rendered.map((c) => withStaticDiscovery(c, [pod])) }, { aliasDuplicateObjects: false }));
    const result = await promtool(["check", "config", "--syntax-only", file]);
    expect(result.stdout).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });

  it("discovers pods with node metadata, in the configured namespaces", () => {
    expect(rendered.map((c) => [c.job_name, c.kubernetes_sd_configs])).toEqual([
      ["podMonitor/monitoring/dcgm-exporter/0", [{ role: "pod", namespaces: { names: ["monitoring"] }, attach_metadata: { node: true } }]],
      ["podMonitor/monitoring/infermesh-router/0", [{ role: "pod", namespaces: { names: ["serving", "batch"] }, attach_metadata: { node: true } }]],
      ["podMonitor/monitoring/infermesh-agent/0", [{ role: "pod", namespaces: { names: ["serving", "batch"] }, attach_metadata: { node: true } }]],
      ["podMonitor/monitoring/infermesh-adapter/0", [{ role: "pod", namespaces: { names: ["serving", "batch"] }, attach_metadata: { node: true } }]],
    ]);
  });
});
