/**
 * How series values follow the fleet's history (sim/values.ts): counters are
 * exact integrals of per-scenario rates (times the traffic wave, when the
 * bench asks for one), gauges follow the scenario playing at each moment.
 */
import { describe, expect, it } from "vitest";
import type { ScenarioName } from "../sim/scenarios";
import { counter, gauge, scenarioAt, valueAt, type HistorySegment } from "../sim/values";

const history: HistorySegment[] = [
  { from: 1000, scenario: "healthy" },
  { from: 1100, scenario: "error-spike" },
  { from: 1200, scenario: "healthy" },
];
const spikeRate = (s: ScenarioName) => (s === "error-spike" ? 10 : 1);

describe("valueAt", () => {
  it.each([
    ["before the history: the first scenario", 900, "healthy"],
    ["at a segment's start: that segment", 1100, "error-spike"],
    ["inside a segment", 1150, "error-spike"],
    ["after the last start", 5000, "healthy"],
  ] as const)("scenarioAt %s", (_name, t, want) => {
    expect(scenarioAt(history, t)).toBe(want);
  });

  it.each([
    // base 0: 100 s at 1/s, 50 s at 10/s.
    ["a counter integrates each segment's rate", counter(spikeRate, { base: 0 }), 1150, 100 + 500],
    ["a counter keeps what it gathered after the scenario ends", counter(spikeRate, { base: 0 }), 1300, 100 + 1000 + 100],
    ["a jump lands once, when its scenario starts", counter(() => 0, { base: 5, jump: (s) => (s === "error-spike" ? 2 : 0) }), 1300, 7],
    ["without a base, a counter starts where 6 h at the healthy rate leave it", counter(spikeRate), 1000, 6 * 3600],
    ["a gauge reads the scenario at t", gauge((s) => (s === "error-spike" ? 60 : 1)), 1150, 60],
  ])("%s", (_name, spec, t, want) => {
    expect(valueAt(spec, history, t)).toBe(want);
  });

  it("a waved counter gathers exactly rate x time over a whole period, and never goes down", () => {
    const wave = { amplitude: 0.3, period: 600, phase: 1.1 };
    const spec = counter(() => 2, { base: 0, wave });
    const flat: HistorySegment[] = [{ from: 0, scenario: "healthy" }];
    expect(valueAt(spec, flat, 600)).toBeCloseTo(1200, 6);
    expect(valueAt(spec, flat, 300)).not.toBeCloseTo(600, 0);
    let last = -1;
    for (let t = 0; t <= 1200; t += 15) {
      const v = valueAt(spec, flat, t);
      expect(v).toBeGreaterThanOrEqual(last);
      last = v;
    }
  });

  it("a waved gauge swings around its scenario value by the amplitude", () => {
    const spec = gauge(() => 100, { amplitude: 0.1, period: 400, phase: 0 });
    const flat: HistorySegment[] = [{ from: 0, scenario: "healthy" }];
    expect(valueAt(spec, flat, 100)).toBeCloseTo(110, 6);
    expect(valueAt(spec, flat, 300)).toBeCloseTo(90, 6);
  });
});
