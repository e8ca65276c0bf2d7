/**
 * dcgm-exporter's own counter lists, as data: what a GPU would export if the
 * stack shipped no counters file of its own. Kept to compare the stack's
 * counters (components/dcgmCounters.ts) against, series for series. Pure.
 *
 * Source: ../shared/reference/dcgm-exporter-notes.md §1, read from
 * NVIDIA/dcgm-exporter at tag 4.5.3-4.8.2 (commit 691c927; master d5e5f51 has
 * the same files). Only the enabled lines are kept, exactly as written
 * (whitespace included); commented-out fields export nothing.
 */

/** The field types dcgm-exporter accepts in a counters CSV (internal/pkg/counters/variables.go). */
export const dcgmFieldTypes = ["gauge", "counter", "histogram", "summary", "label"] as const;
export type DcgmFieldType = (typeof dcgmFieldTypes)[number];

export interface DcgmCounterLine {
  /** The DCGM field name, which is also the Prometheus metric name. */
  name: string;
  type: DcgmFieldType;
  help: string;
  /** 1-based line number in the CSV, for error messages. */
  line: number;
}

export interface DcgmCounterList {
  /** Short name for reports. */
  key: string;
  /** Where the list comes from. */
  source: string;
  csv: string;
}

/** Enabled lines of `etc/default-counters.csv` (NVIDIA/dcgm-exporter @ 4.5.3-4.8.2): 25 metrics and 1 `label` field. */
export const defaultCountersCsv = `DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).
DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).
DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).
DCGM_FI_DEV_GPU_TEMP,    gauge, GPU temperature (in C).
DCGM_FI_DEV_POWER_USAGE,              gauge, Power draw (in W).
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).
DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.
DCGM_FI_DEV_GPU_UTIL,      gauge, GPU utilization (in %).
DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).
DCGM_FI_DEV_ENC_UTIL,      gauge, Encoder utilization (in %).
DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).
DCGM_FI_DEV_XID_ERRORS,              gauge,   Value of the last XID error encountered.
DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).
DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_FB_RESERVED, gauge, Framebuffer memory reserved (in MiB).
DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL,            counter, Total number of NVLink bandwidth counters for all lanes.
DCGM_FI_DEV_VGPU_LICENSE_STATUS, gauge, vGPU License status
DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for uncorrectable errors
DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS,   counter, Number of remapped rows for correctable errors
DCGM_FI_DEV_ROW_REMAP_FAILURE,           gauge,   Whether remapping of rows has failed
DCGM_FI_DRIVER_VERSION,        label, Driver Version
DCGM_FI_PROF_GR_ENGINE_ACTIVE,   gauge, Ratio of time the graphics engine is active.
DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.
DCGM_FI_PROF_DRAM_ACTIVE,        gauge, Ratio of cycles the device memory interface is active sending or receiving data.
DCGM_FI_PROF_PCIE_TX_BYTES,      gauge, The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.
DCGM_FI_PROF_PCIE_RX_BYTES,      gauge, The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.
`;

/**
 * Enabled lines of the Helm chart's built-in list (`deployment/templates/metrics-configmap.yaml`,
 * used when `customMetrics` is unset; mounted over default-counters.csv). It is
 * `etc/dcp-metrics-included.csv` without `DCGM_FI_DEV_FB_RESERVED` and without the
 * static-configuration block (so no `DCGM_FI_DRIVER_VERSION` label); that file's
 * enabled lines are those of default-counters.csv, with its own spacing on the XID line.
 */
export const helmChartCountersCsv = `DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).
DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).
DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).
DCGM_FI_DEV_GPU_TEMP,    gauge, GPU temperature (in C).
DCGM_FI_DEV_POWER_USAGE,              gauge, Power draw (in W).
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).
DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.
DCGM_FI_DEV_GPU_UTIL,      gauge, GPU utilization (in %).
DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).
DCGM_FI_DEV_ENC_UTIL,      gauge, Encoder utilization (in %).
DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).
DCGM_FI_DEV_XID_ERRORS,            gauge,   Value of the last XID error encountered.
DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).
DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL,            counter, Total number of NVLink bandwidth counters for all lanes.
DCGM_FI_DEV_VGPU_LICENSE_STATUS, gauge, vGPU License status
DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for uncorrectable errors
DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS,   counter, Number of remapped rows for correctable errors
DCGM_FI_DEV_ROW_REMAP_FAILURE,           gauge,   Whether remapping of rows has failed
DCGM_FI_PROF_GR_ENGINE_ACTIVE,   gauge, Ratio of time the graphics engine is active.
DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.
DCGM_FI_PROF_DRAM_ACTIVE,        gauge, Ratio of cycles the device memory interface is active sending or receiving data.
DCGM_FI_PROF_PCIE_TX_BYTES,      gauge, The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.
DCGM_FI_PROF_PCIE_RX_BYTES,      gauge, The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.
`;

export const dcgmDefaultLists: readonly DcgmCounterList[] = [
  { key: "default-counters.csv", source: "NVIDIA/dcgm-exporter etc/default-counters.csv @ 4.5.3-4.8.2", csv: defaultCountersCsv },
  { key: "helm chart", source: "NVIDIA/dcgm-exporter deployment/templates/metrics-configmap.yaml (chart 4.8.2, customMetrics unset)", csv: helmChartCountersCsv },
];

const isFieldType = (value: string): value is DcgmFieldType => (dcgmFieldTypes as readonly string[]).includes(value);

/**
 * Parses a counters CSV the way dcgm-exporter does: `#` lines are comments,
 * every other non-blank line has exactly three comma-separated fields
 * (trimmed), and the type must be one the exporter knows. Throws on the first
 * line the exporter would reject, so a typo in the data above cannot pass as a
 * shorter list.
 */
export function parseDcgmCounters(csv: string): DcgmCounterLine[] {
  const fields: DcgmCounterLine[] = [];
  const seen = new Set<string>();
  csv.split("\n").forEach((raw, i) => {
    const text = raw.trim();
    if (text === "" || text.startsWith("#")) return;
    const parts = text.split(",").map((p) => p.trim());
    if (parts.length !== 3) throw new Error(`line ${i + 1}: expected 3 comma-separated fields, got ${parts.length}: ${JSON.stringify(raw)}`);
    const [name, type, help] = parts as [string, string, string];
    if (!/^DCGM_(FI|EXP)_[A-Z0-9_]+$/.test(name)) throw new Error(`line ${i + 1}: ${JSON.stringify(name)} is not a DCGM field name`);
    if (!isFieldType(type)) throw new Error(`line ${i + 1}: unknown type ${JSON.stringify(type)} (expected one of ${dcgmFieldTypes.join(", ")})`);
    if (seen.has(name)) throw new Error(`line ${i + 1}: ${name} is listed twice`);
    seen.add(name);
    fields.push({ name, type, help, line: i + 1 });
  });
  return fields;
}
