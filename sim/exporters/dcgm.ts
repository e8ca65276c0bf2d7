/**
 * dcgm-exporter 4.x: the series it emits for each GPU or MIG instance, label
 * order included (before the stack's relabeling), and what the synthetic
 * fleet's GPUs read in each scenario.
 */
import type { MetricFamily, Sample } from "../exposition";
import type { DcgmField, FixtureGpu, FleetModel, GpuEntity, GpuNode } from "../model";
import type { ScenarioName } from "../scenarios";
import { counter, gauge, type FamilySpec, type SeriesSpec, type ValueSpec } from "../values";
import { sanitizeLabelName } from "../../lib/labelName";

export interface DcgmFixtureOptions {
  /** `Hostname` up to dcgm-exporter 4.8.2; `hostname` after NVIDIA/dcgm-exporter PR #655. */
  hostnameLabel: "Hostname" | "hostname";
  fields: DcgmField[];
  /** Value of the `DCGM_FI_DRIVER_VERSION` label. */
  driverVersion?: string;
}

export const defaultDriverVersion = "550.144.03";

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
export function dcgmFamilies(gpus: FixtureGpu[], values: (field: string, gpu: FixtureGpu) => number | undefined, opts: DcgmFixtureOptions): MetricFamily[] {
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

/**
 * What one node's dcgm-exporter emits, as families of series: per field, per
 * GPU entity (in the exporter's order), what it reads in each scenario.
 * Device-level readings (temperature, power, ECC, violations, XID) repeat on
 * each MIG instance of a GPU, as dcgm-exporter reports them; MIG instances
 * report no GPU_UTIL (dcgm-exporter issues #50, #216). In `gpu-idle` a pod
 * takes the idle GPU and its series carry that pod's attribution instead.
 */
export function dcgmExporterFamilies(m: FleetModel, node: GpuNode): FamilySpec[] {
  const h = m.hit;
  const readings = new Map<GpuEntity, Partial<Record<string, ValueSpec>>>();
  for (const e of node.entities) {
    const siblings = node.entities.filter((x) => x.uuid === e.uuid);
    const busy = (x: GpuEntity) => (x.deployment ? (x.deployment.idle ? 0.01 : 0.55 + ((x.ordinal * 7) % 35) / 100) : 0);
    const deviceUtil = (siblings.reduce((sum, x) => sum + busy(x), 0) / siblings.length) * 100;
    const isTarget = (g: GpuEntity) => g === e;
    const thermal = (s: ScenarioName) => s === "thermal-throttling" && isTarget(h.thermalGpu);
    const fbUsedShare = e.deployment ? 0.55 + (e.ordinal % 4) * 0.07 : 0.005;
    // Two uncorrectable errors the moment the scenario starts; counters keep them afterwards.
    const dbeBurst = (s: ScenarioName) => (s === "ecc-double-bit" && isTarget(h.eccGpu) ? 2 : 0);
    // Load follows traffic: an instance's own deployment's; a device's, that of the first deployment on it (the same on each of its instances).
    const wave = m.wave(e.deployment);
    const deviceWave = m.wave(siblings.find((x) => x.deployment)?.deployment);
    readings.set(e, {
      DCGM_FI_DEV_GPU_UTIL: e.mig ? undefined : gauge(() => Math.round(deviceUtil), deviceWave),
      DCGM_FI_PROF_GR_ENGINE_ACTIVE: gauge(() => Number((busy(e) * 0.95).toFixed(6)), wave),
      DCGM_FI_DEV_FB_TOTAL: gauge(() => e.fbTotalMiB),
      DCGM_FI_DEV_FB_USED: gauge((s) => Math.round(e.fbTotalMiB * (s === "vram-near-oom" && isTarget(h.vramGpu) ? 0.96 : fbUsedShare))),
      DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: counter(() => 0, { base: 0, jump: dbeBurst }),
      DCGM_FI_DEV_ECC_DBE_AGG_TOTAL: counter(() => 0, { base: e.ordinal % 5 === 3 ? 1 : 0, jump: dbeBurst }),
      DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: counter(() => (e.ordinal % 5 === 1 ? 0.01 : 0), { base: e.ordinal % 3 }),
      DCGM_FI_DEV_ECC_SBE_AGG_TOTAL: counter(() => (e.ordinal % 5 === 1 ? 0.01 : 0), { base: 40 + (e.ordinal % 7) * 3 }),
      DCGM_FI_DEV_THERMAL_VIOLATION: counter((s) => (thermal(s) ? 1e9 : e.ordinal % 4 === 3 ? 0.015e9 : 0), { base: e.ordinal * 37e9 }),
      DCGM_FI_DEV_POWER_VIOLATION: counter(() => (e.ordinal % 3 === 0 ? 0.03e9 : 0), { base: e.ordinal * 11e9 }),
      DCGM_FI_DEV_GPU_TEMP: gauge((s) => (thermal(s) ? 88 : Math.round(38 + deviceUtil * 0.35))),
      DCGM_FI_DEV_POWER_USAGE: gauge(() => Number((node.pool.power.idle + ((node.pool.power.max - node.pool.power.idle) * deviceUtil) / 100).toFixed(3)), deviceWave),
      DCGM_FI_DEV_XID_ERRORS: gauge((s) => (s === "ecc-double-bit" && isTarget(h.eccGpu) ? 48 : 0)),
    });
  }
  const known = new Set(Object.keys(readings.values().next().value ?? {}));
  const unknown = m.settings.dcgmFields.filter((f) => !known.has(f.name)).map((f) => f.name);
  if (unknown.length > 0) throw new Error(`the fleet has no readings for DCGM field(s) ${unknown.join(", ")}; add them to sim/exporters/dcgm.ts`);
  const opts = { hostnameLabel: node.hostnameLabel };
  const idlePod = { namespace: h.idlePod.namespace, pod: h.idlePod.name, container: "runtime", labels: m.allowlisted(h.idlePod.labels) };
  return m.settings.dcgmFields.map((field) => ({
    name: field.name,
    help: field.help,
    type: field.type,
    series: node.entities.flatMap((e): SeriesSpec[] => {
      const value = readings.get(e)?.[field.name];
      if (value === undefined) return [];
      if (e !== h.idleGpu) return [{ labels: dcgmSeriesLabels(e, opts), value }];
      return [
        { labels: dcgmSeriesLabels(e, opts), value, present: (s) => s !== "gpu-idle" },
        { labels: dcgmSeriesLabels({ ...e, pod: idlePod }, opts), value, present: (s) => s === "gpu-idle" },
      ];
    }),
  }));
}
