/**
 * Prometheus text exposition (format 0.0.4) for tests: a renderer, a loopback
 * server that serves rendered text, and a builder that reproduces the series
 * dcgm-exporter 4.x emits, label order included, so relabeling and queries can
 * be checked against what a real exporter sends.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Sample {
  /** Label pairs in output order, so a fixture can match an exporter's exact order. */
  labels: ReadonlyArray<readonly [string, string]>;
  value: number;
  /** Required on histogram samples (the series is `name` + suffix); absent otherwise. */
  suffix?: "_bucket" | "_sum" | "_count";
}

export interface MetricFamily {
  name: string;
  help: string;
  type: "gauge" | "counter" | "histogram";
  samples: Sample[];
}

export const expositionContentType = "text/plain; version=0.0.4; charset=utf-8";

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Renders families in the text format. Names are validated because a typo in
 * a fixture would otherwise surface only as a failed scrape in Prometheus.
 */
export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!metricNamePattern.test(family.name)) throw new Error(`invalid metric name ${JSON.stringify(family.name)}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      if (family.type === "histogram" && sample.suffix === undefined) {
        throw new Error(`histogram ${family.name} has a sample without a _bucket/_sum/_count suffix`);
      }
      if (family.type !== "histogram" && sample.suffix !== undefined) {
        throw new Error(`${family.type} ${family.name} has a sample with suffix ${sample.suffix}`);
      }
      const pairs = sample.labels.map(([name, value]) => {
        if (!labelNamePattern.test(name)) throw new Error(`invalid label name ${JSON.stringify(name)} on ${family.name}`);
        return `${name}="${escapeLabelValue(value)}"`;
      });
      const labelText = pairs.length > 0 ? `{${pairs.join(",")}}` : "";
      lines.push(`${family.name}${sample.suffix ?? ""}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

export interface ExpositionServer {
  port: number;
  /** Base URL, e.g. `http://127.0.0.1:41234`; append a route path. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves each route's text on 127.0.0.1 at a free port. Routes are called on
 * every request, so a test can change what the next scrape sees.
 */
export async function startExpositionServer(routes: Record<string, () => string>): Promise<ExpositionServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    let body: string;
    try {
      body = route();
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${String(error)}\n`);
      return;
    }
    res.writeHead(200, { "content-type": expositionContentType, "content-length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; close() alone would wait for them.
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

// dcgm-exporter fixtures.

export interface FixtureGpu {
  /** Kubernetes node name; dcgm-exporter's Hostname label (the chart sets NODE_NAME from spec.nodeName). */
  node: string;
  index: number;
  /** Whole-GPU UUID (`GPU-…`); MIG instances carry their parent's UUID. */
  uuid: string;
  modelName: string;
  mig?: { profile: string; instance: number };
  /** The pod holding this GPU or MIG instance, as the kubelet pod-resources API reports it. */
  pod?: { namespace: string; pod: string; container: string; labels?: Record<string, string> };
}

export interface DcgmField {
  name: string;
  type: "gauge" | "counter";
  help: string;
}

export interface DcgmFixtureOptions {
  /** `Hostname` up to dcgm-exporter 4.8.2; `hostname` after NVIDIA/dcgm-exporter PR #655. */
  hostnameLabel: "Hostname" | "hostname";
  fields: DcgmField[];
  /** Value of the `DCGM_FI_DRIVER_VERSION` label. */
  driverVersion?: string;
}

export const defaultDriverVersion = "550.144.03";

/** dcgm-exporter's SanitizeLabelName: every character outside [a-zA-Z0-9_] becomes `_`. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, "_");
}

/**
 * A PCI bus id in dcgm-exporter's form (`00000000:1A:00.0`) derived from the
 * GPU index: 16 GPUs per PCI domain, buses 0x1A, 0x2A, …, so ids never collide.
 */
export function pciBusId(index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new Error(`GPU index must be a non-negative integer, got ${index}`);
  const domain = Math.floor(index / 16);
  const bus = (0x1a + 0x10 * (index % 16)) % 0x100;
  return `${domain.toString(16).toUpperCase().padStart(8, "0")}:${bus.toString(16).toUpperCase().padStart(2, "0")}:00.0`;
}

/** Go's text/template ranges over maps in byte order of the keys. */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The labels dcgm-exporter puts on a GPU-entity series, in its output order.
 * The renderer (internal/pkg/rendermetrics) writes the fixed labels, then its
 * `Labels` map (label-type CSV fields such as DCGM_FI_DRIVER_VERSION, plus the
 * pod's sanitised labels, which overwrite on a clash), then its `Attributes`
 * map (container, namespace, pod); both maps in sorted key order.
 */
export function dcgmSeriesLabels(gpu: FixtureGpu, opts: Pick<DcgmFixtureOptions, "hostnameLabel" | "driverVersion">): Array<readonly [string, string]> {
  const labels: Array<readonly [string, string]> = [
    ["gpu", String(gpu.index)],
    ["UUID", gpu.uuid],
    ["pci_bus_id", pciBusId(gpu.index)],
    ["device", `nvidia${gpu.index}`],
    ["modelName", gpu.modelName],
  ];
  if (gpu.mig) {
    labels.push(["GPU_I_PROFILE", gpu.mig.profile], ["GPU_I_ID", String(gpu.mig.instance)]);
  }
  labels.push([opts.hostnameLabel, gpu.node]);

  const labelMap = new Map<string, string>([["DCGM_FI_DRIVER_VERSION", opts.driverVersion ?? defaultDriverVersion]]);
  for (const [key, value] of Object.entries(gpu.pod?.labels ?? {})) labelMap.set(sanitizeLabelName(key), value);
  for (const key of [...labelMap.keys()].sort(byteOrder)) labels.push([key, labelMap.get(key) ?? ""]);

  if (gpu.pod) {
    labels.push(["container", gpu.pod.container], ["namespace", gpu.pod.namespace], ["pod", gpu.pod.pod]);
  }
  return labels;
}

/**
 * One family per field, one sample per GPU (or MIG instance) in the order
 * given. `values` returning undefined omits the sample, as the exporter does
 * for fields a device does not support (e.g. GPU_UTIL on MIG instances); a
 * family left with no samples still renders its HELP and TYPE lines.
 */
export function dcgmFamilies(
  gpus: FixtureGpu[],
  values: (field: string, gpu: FixtureGpu) => number | undefined,
  opts: DcgmFixtureOptions,
): MetricFamily[] {
  return opts.fields.map((field) => ({
    name: field.name,
    help: field.help,
    type: field.type,
    samples: gpus.flatMap((gpu): Sample[] => {
      const value = values(field.name, gpu);
      return value === undefined ? [] : [{ labels: dcgmSeriesLabels(gpu, opts), value }];
    }),
  }));
}
