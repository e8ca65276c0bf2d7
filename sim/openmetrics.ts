/**
 * The backfill sink: the fleet over a window of time, written as OpenMetrics
 * for `promtool tsdb create-blocks-from openmetrics`, in the label form
 * Prometheus would store. Nothing is written by hand in that form: each
 * target goes through the stack's own scrape configuration (static discovery
 * labels, `relabel_configs`, the job's `honor_labels`, then
 * `metric_relabel_configs`) with `applyRelabelings`, as a scrape would, so a
 * change to the stack's relabel rules shows up here as it does on a real
 * Prometheus (test/sim.crosscheck.test.ts holds the two paths together).
 *
 * Memory and disk stay bounded: series are planned once (labels only), then
 * written one part at a time, each family's series sorted and each series'
 * samples in time order, so the caller can convert and delete a part before
 * the next is written.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { Fleet } from "./fleet";
import type { FleetTarget } from "./model";
import { applyRelabelings, fromPrometheusRelabel, type Relabeling } from "./relabel";
import type { ScenarioName } from "./scenarios";
import { scenarioAt, valueAt, type ValueSpec } from "./values";

// ---------------------------------------------------------------------------
// Window

export interface BackfillWindow {
  /** First and last sample timestamps, unix seconds. */
  start: number;
  end: number;
  /** Seconds between samples (the scrape interval). */
  step: number;
  /** Samples per series. */
  steps: number;
}

/**
 * promtool writes one block per aligned range of its block duration, reading
 * the whole input once per range; with 18 h blocks (the hidden
 * `--max-block-duration` flag) a window inside one aligned 18 h range costs a
 * single pass.
 */
export const promtoolBlockSeconds = 18 * 3600;

/** A window of `hours` ending at the latest minute before `nowSeconds` that keeps it inside one aligned promtool block. */
export function backfillWindow(hours: number, nowSeconds: number, step: number): BackfillWindow {
  const duration = hours * 3600;
  if (!(duration > 0 && duration < promtoolBlockSeconds)) throw new Error(`a backfill window must be over 0 and under ${promtoolBlockSeconds / 3600} h, got ${hours} h`);
  let end = Math.floor(nowSeconds / 60) * 60;
  const blockStart = Math.floor(end / promtoolBlockSeconds) * promtoolBlockSeconds;
  if (end - duration < blockStart) end = blockStart - 60;
  return { start: end - duration, end, step, steps: Math.floor(duration / step) + 1 };
}

// ---------------------------------------------------------------------------
// Targets, as Prometheus derives them from a scrape configuration

export interface ScrapedTarget {
  target: FleetTarget;
  /** The scrape config's `job_name`. */
  scrapePool: string;
  /** Target labels after `relabel_configs` (no `__` labels; `instance` defaulted to the address). */
  labels: Readonly<Record<string, string>>;
  honorLabels: boolean;
  metricRelabelings: readonly Relabeling[];
}

interface StaticConfig {
  targets: string[];
  labels?: Record<string, string>;
}

/**
 * The targets the scrape configs make of the fleet: for each static target,
 * the labels Prometheus starts from (job, address, path, scheme, interval,
 * the static group's labels), `relabel_configs`, then Prometheus' own rules
 * (a dropped target is no target; labels starting with `__` go; `instance`
 * defaults to the address).
 */
function scrapedTargets(fleet: Fleet, scrapeConfigs: ReadonlyArray<Readonly<Record<string, unknown>>>, addressOf: (target: FleetTarget) => string): ScrapedTarget[] {
  const byAddress = new Map(fleet.targets.map((t) => [addressOf(t), t]));
  const out: ScrapedTarget[] = [];
  for (const config of scrapeConfigs) {
    const job = String(config.job_name);
    if (config.kubernetes_sd_configs !== undefined) throw new Error(`scrape config ${job}: Kubernetes discovery must be replaced by static targets first (sim/discovery.ts)`);
    const relabel = ((config.relabel_configs ?? []) as Array<Record<string, unknown>>).map(fromPrometheusRelabel);
    const metricRelabelings = ((config.metric_relabel_configs ?? []) as Array<Record<string, unknown>>).map(fromPrometheusRelabel);
    for (const group of (config.static_configs ?? []) as StaticConfig[]) {
      for (const address of group.targets) {
        const target = byAddress.get(address);
        if (!target) throw new Error(`scrape config ${job}: static target ${address} is no target of the fleet`);
        const start: Record<string, string> = {
          job,
          __address__: address,
          __metrics_path__: String(config.metrics_path ?? "/metrics"),
          __scheme__: String(config.scheme ?? "http"),
          __scrape_interval__: String(config.scrape_interval ?? "1m"),
          __scrape_timeout__: String(config.scrape_timeout ?? "10s"),
          ...group.labels,
        };
        const relabeled = applyRelabelings(start, relabel);
        if (!relabeled) continue;
        const labels = Object.fromEntries(Object.entries(relabeled).filter(([k]) => !k.startsWith("__")));
        labels.instance ??= relabeled.__address__ ?? address;
        out.push({ target, scrapePool: job, labels, honorLabels: config.honor_labels === true, metricRelabelings });
      }
    }
  }
  return out;
}

/**
 * A scraped sample's labels as stored: target labels merged (with
 * `honor_labels` the sample's own win; without, a clashing sample label is
 * kept as `exported_<name>`), then `metric_relabel_configs`. Undefined when
 * a rule drops the series.
 */
function storedLabels(name: string, sample: ReadonlyArray<readonly [string, string]>, scraped: ScrapedTarget): Record<string, string> | undefined {
  const labels: Record<string, string> = { __name__: name };
  for (const [k, v] of sample) if (v !== "") labels[k] = v;
  for (const [k, v] of Object.entries(scraped.labels)) {
    if (scraped.honorLabels) {
      if (!(k in labels)) labels[k] = v;
      continue;
    }
    const exposed = labels[k];
    if (exposed !== undefined) {
      let renamed = `exported_${k}`;
      while (labels[renamed] !== undefined) renamed = `exported_${renamed}`;
      labels[renamed] = exposed;
    }
    labels[k] = v;
  }
  return applyRelabelings(labels, scraped.metricRelabelings);
}

// ---------------------------------------------------------------------------
// Planned series

/** One stored series: its labels (rendered, sorted, without the name) and how to compute its samples. */
interface StoredSeries {
  text: string;
  scraped: ScrapedTarget;
  /** A sample value, or `up` (1 while the target answers, 0 while it fails). */
  value: ValueSpec | "up";
  present?: (s: ScenarioName) => boolean;
}

/** Every stored series of one metric name, sorted by labels. */
export interface StoredFamily {
  name: string;
  series: StoredSeries[];
}

const escapeValue = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function render(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .filter((k) => k !== "__name__")
    .sort()
    .map((k) => `${k}="${escapeValue(labels[k] as string)}"`)
    .join(",");
}

/** A run of one family's series within a part file. */
export interface BackfillSegment {
  family: StoredFamily;
  from: number;
  to: number;
}

export interface BackfillPart {
  segments: BackfillSegment[];
  /** Estimated size, bytes. */
  bytes: number;
}

/**
 * The fleet over `window` as Prometheus would store it after scraping it
 * through `scrapeConfigs`: families in name order, series in label order.
 * Besides what the exporters emit, each target's `up` (Prometheus' own
 * `scrape_*` series are left out: nothing reads them).
 */
export class Backfill {
  readonly targets: ScrapedTarget[];
  readonly families: StoredFamily[];
  private readonly scenarios: ScenarioName[];

  constructor(
    readonly fleet: Fleet,
    scrapeConfigs: ReadonlyArray<Readonly<Record<string, unknown>>>,
    addressOf: (target: FleetTarget) => string,
    readonly window: BackfillWindow,
  ) {
    this.targets = scrapedTargets(fleet, scrapeConfigs, addressOf);
    this.scenarios = Array.from({ length: window.steps }, (_, i) => scenarioAt(fleet.timeline, window.start + i * window.step));
    const played = [...new Set(this.scenarios)];
    const byName = new Map<string, Map<string, StoredSeries>>();
    const add = (name: string, series: StoredSeries) => {
      let family = byName.get(name);
      if (!family) byName.set(name, (family = new Map()));
      const clash = family.get(series.text);
      // Prometheus would keep one and reject the other's samples: a relabel rule merging distinct series is a defect to fix, not to hide.
      if (clash)
        throw new Error(
          `${name}{${series.text}} is stored twice: targets ${clash.scraped.target.id} and ${series.scraped.target.id} (the stack's relabeling merges distinct series)`,
        );
      family.set(series.text, series);
    };
    for (const scraped of this.targets) {
      add("up", { text: render(scraped.labels), scraped, value: "up" });
      const answering = played.filter((scenario) => !fleet.isDown(scraped.target, scenario));
      for (const f of fleet.seriesSpecs(scraped.target)) {
        for (const s of f.series) {
          // Only series with samples in the window: present, from an answering target, in a scenario it plays.
          if (!answering.some((scenario) => s.present === undefined || s.present(scenario))) continue;
          const labels = storedLabels(`${f.name}${s.suffix ?? ""}`, s.labels, scraped);
          if (!labels) continue;
          add(labels.__name__ as string, { text: render(labels), scraped, value: s.value, ...(s.present ? { present: s.present } : {}) });
        }
      }
    }
    this.families = [...byName.keys()].sort().map((name) => ({
      name,
      series: [...(byName.get(name) as Map<string, StoredSeries>).values()].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)),
    }));
  }

  /** Stored series in all. */
  get seriesCount(): number {
    return this.families.reduce((sum, f) => sum + f.series.length, 0);
  }

  /** Parts of about `partBytes` each, in family and series order (a large family spans parts). */
  planParts(partBytes: number): BackfillPart[] {
    const parts: BackfillPart[] = [];
    let current: BackfillPart = { segments: [], bytes: 0 };
    for (const family of this.families) {
      let from = 0;
      family.series.forEach((series, k) => {
        // A line is the name, the labels, a value and a timestamp (about 30 bytes).
        current.bytes += (series.text.length + family.name.length + 30) * this.window.steps;
        if (current.bytes >= partBytes) {
          current.segments.push({ family, from, to: k + 1 });
          parts.push(current);
          current = { segments: [], bytes: 0 };
          from = k + 1;
        }
      });
      if (from < family.series.length) current.segments.push({ family, from, to: family.series.length });
    }
    if (current.segments.length > 0) parts.push(current);
    return parts;
  }

  /** Writes one part as a complete OpenMetrics exposition (every family typed `unknown`: types do not reach the TSDB), ending in `# EOF`. */
  async writePart(file: string, part: BackfillPart): Promise<{ bytes: number; lines: number }> {
    const fd = openSync(file, "w");
    const out = new Writer(fd);
    const { start, step, steps } = this.window;
    const history = this.fleet.timeline;
    try {
      for (const { family, from, to } of part.segments) {
        out.add(`# TYPE ${family.name} unknown\n`);
        for (let k = from; k < to; k++) {
          const series = family.series[k] as StoredSeries;
          const prefix = series.text === "" ? `${family.name} ` : `${family.name}{${series.text}} `;
          const target = series.scraped.target;
          let text = "";
          for (let i = 0; i < steps; i++) {
            const scenario = this.scenarios[i] as ScenarioName;
            const t = start + i * step;
            const down = this.fleet.isDown(target, scenario);
            let value: number;
            if (series.value === "up") value = down ? 0 : 1;
            else if (down || (series.present !== undefined && !series.present(scenario))) continue;
            else value = valueAt(series.value, history, t);
            text += `${prefix}${value} ${t}\n`;
            out.lines++;
          }
          out.add(text);
          // Let the caller's finished conversions be noticed (and the next started) while generating.
          if (k % 64 === 63) await new Promise<void>((done) => setImmediate(done));
        }
      }
      out.add("# EOF\n");
      out.flush();
    } finally {
      closeSync(fd);
    }
    return { bytes: out.bytes, lines: out.lines };
  }
}

/** Buffered writer: appends to a string and flushes it to the file in large chunks. */
class Writer {
  private chunk = "";
  bytes = 0;
  lines = 0;
  constructor(private readonly fd: number) {}
  add(text: string): void {
    this.chunk += text;
    if (this.chunk.length >= 8 << 20) this.flush();
  }
  flush(): void {
    if (this.chunk.length === 0) return;
    this.bytes += writeSync(this.fd, this.chunk);
    this.chunk = "";
  }
}
