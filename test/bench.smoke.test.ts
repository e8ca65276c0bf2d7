// The DCGM section of the bench (bench/dcgm.ts) as a check: its computations
// are pure, so they run here without Prometheus and without timing anything.
import { describe, expect, it } from "vitest";
import { contractDcgmFields } from "../components/dcgmCounters";
import { stackQueries } from "../bench/context";
import { dcgmReport, seriesPerGpu } from "../bench/dcgm";
import { grafanaToPromql, metricNamesIn } from "../lib/promql";
import { dcgmDefaultLists, parseDcgmCounters } from "../verify/dcgmDefaults";

describe("bench section A: DCGM series per GPU", () => {
  it("parses both default counter lists, with the field counts the notes give", () => {
    const [csv, helm] = dcgmDefaultLists.map((l) => parseDcgmCounters(l.csv));
    // default-counters.csv: 25 metrics plus the DCGM_FI_DRIVER_VERSION label.
    expect(csv?.length).toBe(26);
    expect(csv?.filter((f) => f.type === "label").map((f) => f.name)).toEqual(["DCGM_FI_DRIVER_VERSION"]);
    expect(seriesPerGpu(csv ?? [])).toBe(25);
    // The chart's list lacks FB_RESERVED and the static-configuration (label) block.
    expect(seriesPerGpu(helm ?? [])).toBe(24);
    expect(helm?.map((f) => f.name)).toEqual(csv?.filter((f) => f.name !== "DCGM_FI_DEV_FB_RESERVED" && f.type !== "label").map((f) => f.name));
  });

  it("rejects what dcgm-exporter rejects", () => {
    expect(() => parseDcgmCounters("DCGM_FI_DEV_GPU_UTIL, gauge")).toThrow(/3 comma-separated/);
    expect(() => parseDcgmCounters("DCGM_FI_DEV_GPU_UTIL, gauges, x")).toThrow(/unknown type/);
    expect(parseDcgmCounters("# comment\n\n DCGM_FI_DEV_DEC_UTIL ,  gauge, x \n")).toEqual([{ name: "DCGM_FI_DEV_DEC_UTIL", type: "gauge", help: "x", line: 3 }]);
  });

  it("reads every DCGM field the stack collects (100%)", () => {
    const report = dcgmReport();
    expect(report.unread).toEqual([]);
    expect(report.readShare).toBe(1);
    expect(report.readButNotCollected).toEqual([]);
    expect(report.stackSeriesPerGpu).toBe(contractDcgmFields().length);
  });

  it("finds metric names through Prometheus' grammar, not by pattern", () => {
    expect([
      ...metricNamesIn(
        grafanaToPromql('sum by (gpu_uuid) (increase(DCGM_FI_DEV_ECC_DBE_AGG_TOTAL{node=~"$node"}[$__range]))', { rateInterval: "1m", range: "6h", interval: "30s" }),
      ),
    ]).toEqual(["DCGM_FI_DEV_ECC_DBE_AGG_TOTAL"]);
    expect([...metricNamesIn('{__name__="DCGM_FI_DEV_GPU_TEMP", gpu="0"} or on() vector(0)')]).toEqual(["DCGM_FI_DEV_GPU_TEMP"]);
    // Every query the stack runs parses once Grafana's substitutions are made.
    for (const q of stackQueries()) expect(() => metricNamesIn(q.expr), q.origin).not.toThrow();
  });
});
