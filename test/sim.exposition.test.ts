import { describe, expect, it } from "vitest";
import { dcgmFamilies, dcgmSeriesLabels, pciBusId } from "../sim/exporters/dcgm";
import type { FixtureGpu } from "../sim/model";
import { sanitizeLabelName } from "../lib/labelName";
import { expositionContentType, renderExposition, startExpositionServer, type MetricFamily } from "../sim/exposition";

describe("renderExposition", () => {
  it("renders gauge, counter and histogram families in text format 0.0.4", () => {
    const families: MetricFamily[] = [
      {
        name: "queue_depth",
        help: "Requests waiting.",
        type: "gauge",
        samples: [
          {
            labels: [
              ["model", "llama"],
              ["node", "n1"],
            ],
            value: 3,
          },
          { labels: [], value: 0.5 },
        ],
      },
      {
        name: "requests_total",
        help: "Requests served.",
        type: "counter",
        samples: [{ labels: [["code", "200"]], value: 1027 }],
      },
      {
        name: "latency_ms",
        help: "Latency in ms.",
        type: "histogram",
        samples: [
          { suffix: "_bucket", labels: [["le", "100"]], value: 3 },
          { suffix: "_bucket", labels: [["le", "+Inf"]], value: 5 },
          { suffix: "_sum", labels: [], value: 412.5 },
          { suffix: "_count", labels: [], value: 5 },
        ],
      },
    ];
    expect(renderExposition(families)).toBe(
      [
        "# HELP queue_depth Requests waiting.",
        "# TYPE queue_depth gauge",
        'queue_depth{model="llama",node="n1"} 3',
        "queue_depth 0.5",
        "# HELP requests_total Requests served.",
        "# TYPE requests_total counter",
        'requests_total{code="200"} 1027',
        "# HELP latency_ms Latency in ms.",
        "# TYPE latency_ms histogram",
        'latency_ms_bucket{le="100"} 3',
        'latency_ms_bucket{le="+Inf"} 5',
        "latency_ms_sum 412.5",
        "latency_ms_count 5",
        "",
      ].join("\n"),
    );
  });

  it("escapes label values and help text, and spells special values as Prometheus does", () => {
    const text = renderExposition([
      {
        name: "odd",
        help: "Back\\slash and\nnewline.",
        type: "gauge",
        samples: [
          { labels: [["v", 'a\\b"c\nd']], value: Number.NaN },
          { labels: [["v", "inf"]], value: Number.POSITIVE_INFINITY },
          { labels: [["v", "-inf"]], value: Number.NEGATIVE_INFINITY },
        ],
      },
    ]);
    expect(text.split("\n")).toEqual(["# HELP odd Back\\\\slash and\\nnewline.", "# TYPE odd gauge", 'odd{v="a\\\\b\\"c\\nd"} NaN', 'odd{v="inf"} +Inf', 'odd{v="-inf"} -Inf', ""]);
  });

  it("keeps the label order given rather than sorting", () => {
    const text = renderExposition([
      {
        name: "m",
        help: "h",
        type: "gauge",
        samples: [
          {
            labels: [
              ["z", "1"],
              ["a", "2"],
            ],
            value: 1,
          },
        ],
      },
    ]);
    expect(text).toContain('m{z="1",a="2"} 1\n');
  });

  it("rejects invalid names and misplaced suffixes", () => {
    expect(() => renderExposition([{ name: "bad-name", help: "", type: "gauge", samples: [] }])).toThrow(/invalid metric name/);
    expect(() => renderExposition([{ name: "m", help: "", type: "gauge", samples: [{ labels: [["a.b", "x"]], value: 1 }] }])).toThrow(/invalid label name/);
    expect(() => renderExposition([{ name: "h", help: "", type: "histogram", samples: [{ labels: [], value: 1 }] }])).toThrow(/suffix/);
    expect(() => renderExposition([{ name: "c", help: "", type: "counter", samples: [{ labels: [], value: 1, suffix: "_sum" }] }])).toThrow(/suffix/);
  });
});

describe("dcgm-exporter fixtures", () => {
  const grEngine = { name: "DCGM_FI_PROF_GR_ENGINE_ACTIVE", type: "gauge", help: "Ratio of time the graphics engine is active." } as const;
  const gpuUtil = { name: "DCGM_FI_DEV_GPU_UTIL", type: "gauge", help: "GPU utilization (in %)." } as const;
  const xid = { name: "DCGM_FI_DEV_XID_ERRORS", type: "gauge", help: "Value of the last XID error encountered." } as const;

  it("reproduces the notes' sample (c) line for line: MIG instances with and without a pod", () => {
    const parent = {
      node: "gsrh100-074",
      index: 0,
      uuid: "GPU-58e8f5ea-13cc-013a-d88f-2bcf5ae8bc77",
      modelName: "NVIDIA H100 80GB HBM3",
    };
    const gpus: FixtureGpu[] = [
      {
        ...parent,
        mig: { profile: "1g.10gb", instance: 7 },
        pod: {
          namespace: "model-playground-stg",
          pod: "text-embedding-predictor-00008-deployment-57946f6c67-vdtjl",
          container: "kserve-container",
        },
      },
      { ...parent, mig: { profile: "1g.10gb", instance: 8 } },
    ];
    const text = renderExposition(dcgmFamilies(gpus, () => 0, { hostnameLabel: "Hostname", fields: [grEngine], driverVersion: "535.129.03" }));
    // The exporter prints this float field as 0.000000; Prometheus parses both spellings to the same value.
    expect(text.split("\n")).toEqual([
      "# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active.",
      "# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge",
      'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-58e8f5ea-13cc-013a-d88f-2bcf5ae8bc77",pci_bus_id="00000000:1A:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",GPU_I_PROFILE="1g.10gb",GPU_I_ID="7",Hostname="gsrh100-074",DCGM_FI_DRIVER_VERSION="535.129.03",container="kserve-container",namespace="model-playground-stg",pod="text-embedding-predictor-00008-deployment-57946f6c67-vdtjl"} 0',
      'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-58e8f5ea-13cc-013a-d88f-2bcf5ae8bc77",pci_bus_id="00000000:1A:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",GPU_I_PROFILE="1g.10gb",GPU_I_ID="8",Hostname="gsrh100-074",DCGM_FI_DRIVER_VERSION="535.129.03"} 0',
      "",
    ]);
  });

  it("renders a whole GPU and a MIG instance held by a labelled pod, omitting unsupported fields", () => {
    const wholeGpu: FixtureGpu = {
      node: "ip-10-0-1-23.us-west-2.compute.internal",
      index: 1,
      uuid: "GPU-15338f3e-5fd9-962d-921a-979b820520f0",
      modelName: "NVIDIA H100 80GB HBM3",
    };
    const migWithPod: FixtureGpu = {
      node: "ip-10-0-1-23.us-west-2.compute.internal",
      index: 2,
      uuid: "GPU-8b2281de-6d3c-22ed-0ec8-d3b864870b8b",
      modelName: "NVIDIA H100 80GB HBM3",
      mig: { profile: "3g.40gb", instance: 2 },
      pod: {
        namespace: "serving",
        pod: "llama-3-8b-7d9f-abcde",
        container: "runtime",
        labels: { "infermesh.io/model": "llama-3-8b", "infermesh.io/revision": "r7", app: "agent" },
      },
    };
    const values = (field: string, gpu: FixtureGpu): number | undefined => {
      if (field === gpuUtil.name) return gpu.mig ? undefined : 87;
      if (field === grEngine.name) return gpu.mig ? 0.42 : 0.9;
      return undefined;
    };
    const text = renderExposition(dcgmFamilies([wholeGpu, migWithPod], values, { hostnameLabel: "hostname", fields: [gpuUtil, grEngine, xid] }));
    const host = 'hostname="ip-10-0-1-23.us-west-2.compute.internal",DCGM_FI_DRIVER_VERSION="550.144.03"';
    const whole = `gpu="1",UUID="GPU-15338f3e-5fd9-962d-921a-979b820520f0",pci_bus_id="00000000:2A:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",${host}`;
    const mig =
      `gpu="2",UUID="GPU-8b2281de-6d3c-22ed-0ec8-d3b864870b8b",pci_bus_id="00000000:3A:00.0",device="nvidia2",modelName="NVIDIA H100 80GB HBM3",` +
      `GPU_I_PROFILE="3g.40gb",GPU_I_ID="2",${host},app="agent",infermesh_io_model="llama-3-8b",infermesh_io_revision="r7",` +
      `container="runtime",namespace="serving",pod="llama-3-8b-7d9f-abcde"`;
    expect(text.split("\n")).toEqual([
      "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).",
      "# TYPE DCGM_FI_DEV_GPU_UTIL gauge",
      `DCGM_FI_DEV_GPU_UTIL{${whole}} 87`,
      "# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active.",
      "# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge",
      `DCGM_FI_PROF_GR_ENGINE_ACTIVE{${whole}} 0.9`,
      `DCGM_FI_PROF_GR_ENGINE_ACTIVE{${mig}} 0.42`,
      // No samples at all: the exporter still prints HELP and TYPE.
      "# HELP DCGM_FI_DEV_XID_ERRORS Value of the last XID error encountered.",
      "# TYPE DCGM_FI_DEV_XID_ERRORS gauge",
      "",
    ]);
  });

  it("sorts the driver-version and pod labels together in byte order, as Go templates range over maps", () => {
    const gpu: FixtureGpu = {
      node: "n",
      index: 0,
      uuid: "GPU-0",
      modelName: "M",
      pod: { namespace: "ns", pod: "p", container: "c", labels: { Zeta: "1", "a-b": "2", ABC: "3" } },
    };
    expect(dcgmSeriesLabels(gpu, { hostnameLabel: "Hostname" }).map(([name]) => name)).toEqual([
      "gpu",
      "UUID",
      "pci_bus_id",
      "device",
      "modelName",
      "Hostname",
      "ABC",
      "DCGM_FI_DRIVER_VERSION",
      "Zeta",
      "a_b",
      "container",
      "namespace",
      "pod",
    ]);
  });

  it("sanitises label names and derives distinct PCI bus ids", () => {
    expect(sanitizeLabelName("infermesh.io/model")).toBe("infermesh_io_model");
    expect(sanitizeLabelName("app.kubernetes.io/name")).toBe("app_kubernetes_io_name");
    expect(pciBusId(0)).toBe("00000000:1A:00.0");
    expect(pciBusId(7)).toBe("00000000:8A:00.0");
    expect(pciBusId(16)).toBe("00000001:1A:00.0");
    const ids = new Set(Array.from({ length: 64 }, (_, i) => pciBusId(i)));
    expect(ids.size).toBe(64);
    expect(() => pciBusId(-1)).toThrow();
  });
});

describe("startExpositionServer", () => {
  it("serves each route's current text on loopback with the exposition content type, 404 otherwise", async () => {
    let value = 1;
    const server = await startExpositionServer({
      "/metrics": () => renderExposition([{ name: "m", help: "h", type: "gauge", samples: [{ labels: [], value }] }]),
    });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      const first = await fetch(`${server.url}/metrics`);
      expect(first.status).toBe(200);
      expect(first.headers.get("content-type")).toBe(expositionContentType);
      expect(await first.text()).toBe("# HELP m h\n# TYPE m gauge\nm 1\n");

      value = 2;
      expect(await (await fetch(`${server.url}/metrics?x=1`)).text()).toContain("m 2\n");

      const missing = await fetch(`${server.url}/other`);
      expect(missing.status).toBe(404);
      await missing.text();
    } finally {
      await server.stop();
    }
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
  });
});
