import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertCatalog, deliver, runbookUrl, severities, type DeliveredAlert } from "../alerts/catalog";
import { recordingRules } from "../monitoring/recording";
import { alertGroupName, isRecordingGroup, prometheusRuleGroups } from "../alerts/prometheusRules";
import { longWindowInterval } from "../monitoring/slo";
import { promtool } from "../verify/prometheus";
import {
  alertCaseKinds,
  alertCases,
  alertScenarios,
  groupEvalOrder,
  seriesSpanSeconds,
  promtoolContext,
  recordingScenarios,
  recordsWithCases,
  renderPromtoolTests,
  type BreachScenario,
} from "../verify/promtoolCases";
import { durationSeconds } from "../lib/duration";
import { renderSloPromtoolTests, sloTestGroups } from "../verify/sloCases";

const runbookBaseUrl = "https://runbooks.example/infermesh.md";
const delivered = deliver(alertCatalog(promtoolContext), { runbookBaseUrl, labels: { environment: "staging" } });
const recording = recordingRules(30, { slo: promtoolContext.slo });
const groups = prometheusRuleGroups(delivered, recording, "30s", longWindowInterval(30));
/** One rule file per group: each test file loads the groups its alerts need (promtool evaluates every loaded rule at every step). */
const ruleFiles = Object.fromEntries(groups.map((g) => [`${g.name}.yml`, YAML.stringify({ groups: [g] }, { aliasDuplicateObjects: false, lineWidth: 0 })]));
const recordingFiles = groups.filter((g) => isRecordingGroup(g.name)).map((g) => `${g.name}.yml`);
const alertFile = (group: DeliveredAlert["group"]) => `${alertGroupName(group)}.yml`;

/** Threshold alerts: the recording groups and their own groups. */
const thresholdAlerts = delivered.filter((a) => a.group !== "slo" && a.group !== "contract");
const thresholdFiles = [...recordingFiles, ...new Set(thresholdAlerts.map((a) => alertFile(a.group)))];
const contractAlerts = delivered.filter((a) => a.group === "contract");
const sloAlerts = delivered.filter((a) => a.group === "slo");
const sloGroups = sloTestGroups(delivered);
const testFiles: Record<string, string> = {
  "tests.yml": renderPromtoolTests(thresholdAlerts, thresholdFiles, { alerts: alertScenarios.filter((s) => thresholdAlerts.some((a) => a.name === s.alert)) }),
  "contract-tests.yml": renderPromtoolTests(contractAlerts, [alertFile("contract")], {
    alerts: alertScenarios.filter((s) => contractAlerts.some((a) => a.name === s.alert)),
    recording: [],
  }),
  ...renderSloPromtoolTests(delivered, [...recordingFiles, alertFile("slo")], groupEvalOrder(sloAlerts), sloGroups),
};

const output = (r: { code: number; stdout: string; stderr: string }) => `promtool exited ${r.code}\n${r.stdout}\n${r.stderr}`;

describe("alert catalog and recording rules under promtool", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "alerts-promtool-"));
    for (const [file, text] of Object.entries({ ...ruleFiles, ...testFiles })) await writeFile(join(dir, file), text);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("promtool check rules accepts every rendered rule file", async () => {
    const result = await promtool(["check", "rules", ...Object.keys(ruleFiles)], { cwd: dir });
    expect(result.code, output(result)).toBe(0);
    const found = [...result.stdout.matchAll(/SUCCESS: (\d+) rules found/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(found).toBe(delivered.length + recording.length);
  });

  it("loads every rule group in some test file, and every test file's groups in order", () => {
    const loaded = new Set(Object.values(testFiles).flatMap((t) => (YAML.parse(t) as { rule_files: string[] }).rule_files));
    expect([...loaded].sort()).toEqual(Object.keys(ruleFiles).sort());
    for (const text of Object.values(testFiles)) {
      const file = YAML.parse(text) as { rule_files: string[]; group_eval_order: string[] };
      for (const f of file.rule_files) expect(file.group_eval_order).toContain(f.replace(/\.yml$/, ""));
    }
  });

  it("promtool test rules passes every alert and recording case", async () => {
    const result = await promtool(["test", "rules", ...Object.keys(testFiles)], { cwd: dir });
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout.match(/SUCCESS/g)).toHaveLength(Object.keys(testFiles).length);
  });

  it("fails when an expectation is wrong (wrong severity on one alert)", async () => {
    const target = thresholdAlerts[0] as DeliveredAlert;
    const wrongSeverity = severities.find((s) => s !== target.severity) as string;
    const wrong = thresholdAlerts.map((a) => (a === target ? { ...a, labels: { ...a.labels, severity: wrongSeverity } } : a));
    await writeFile(
      join(dir, "tests-wrong.yml"),
      renderPromtoolTests(wrong, thresholdFiles, { alerts: alertScenarios.filter((s) => thresholdAlerts.some((a) => a.name === s.alert)) }),
    );
    const result = await promtool(["test", "rules", "tests-wrong.yml"], { cwd: dir });
    expect(result.code, output(result)).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toContain(`alertname: ${target.name}`);
    expect(`${result.stdout}${result.stderr}`).toContain(`severity="${wrongSeverity}"`);
  });
});

describe("promtool case coverage", () => {
  it("every case names a catalog alert", () => {
    const names = new Set(delivered.map((a) => a.name));
    expect(alertScenarios.filter((s) => !names.has(s.alert)).map((s) => `${s.alert}: ${s.name}`)).toEqual([]);
  });

  it("every catalog alert has a quiet healthy case, a quiet case one evaluation before `for`, and a firing case", () => {
    const sloChecks = sloGroups.flatMap((g) => g.checks);
    const cases = [...alertCases(delivered), ...sloChecks];
    const missing = delivered.flatMap((alert) =>
      alertCaseKinds.filter((kind) => !cases.some((c) => c.alert === alert.name && c.kind === kind)).map((kind) => `${alert.name}: no ${kind} case`),
    );
    expect(missing).toEqual([]);
    for (const c of alertCases(delivered)) {
      if (c.kind === "firing") expect(c.expected.length, `${c.alert} / ${c.scenario}`).toBeGreaterThan(0);
      else expect(c.expected, `${c.alert} / ${c.scenario} (${c.kind})`).toEqual([]);
    }
    // SLO checks (verify/sloCases.ts): quiet on healthy windows, something firing at each firing check.
    for (const c of sloChecks) {
      if (c.kind === "healthy") expect(c.expected, `${c.alert} / ${c.scenario}`).toEqual([]);
      if (c.kind === "firing") expect(c.expected.length, `${c.alert} / ${c.scenario}`).toBeGreaterThan(0);
    }
  });

  it("every firing case fires exactly when `for` elapses and its before case is one evaluation earlier", () => {
    const cases = alertCases(delivered);
    for (const alert of delivered) {
      const hold = durationSeconds(alert.for);
      for (const scenario of alertScenarios.filter((s): s is BreachScenario => s.alert === alert.name && s.kind === "breach")) {
        const ofScenario = cases.filter((c) => c.scenario === scenario.name);
        const firing = ofScenario.find((c) => c.kind === "firing");
        const before = ofScenario.find((c) => c.kind === "beforeFor");
        expect(firing?.evalSeconds, scenario.name).toBe(durationSeconds(scenario.conditionFrom) + hold);
        expect(before?.evalSeconds, scenario.name).toBe((firing?.evalSeconds ?? 0) - promtoolContext.scrapeIntervalSeconds);
      }
    }
  });

  it("every case is evaluated while all of its input series still have samples", () => {
    // A series that has ended would make a quiet case pass for the wrong reason.
    const late = [
      ...alertCases(delivered).flatMap((c) => {
        const scenario = alertScenarios.find((s) => s.name === c.scenario);
        return (scenario?.input ?? []).filter((i) => seriesSpanSeconds(i.values) < c.evalSeconds).map((i) => `${c.alert} ${c.kind} at ${c.evalSeconds}s: ${i.series}`);
      }),
      ...recordingScenarios.flatMap((s) =>
        s.cases.flatMap((c) => s.input.filter((i) => seriesSpanSeconds(i.values) < durationSeconds(c.evalTime)).map((i) => `${c.record} at ${c.evalTime}: ${i.series}`)),
      ),
    ];
    expect(late).toEqual([]);
  });

  it("every recording rule has a promql_expr_test, and every test reads a recording rule", () => {
    const covered = new Set([...recordsWithCases(), ...sloGroups.flatMap((g) => g.recording.map((r) => r.record))]);
    const records = new Set(recording.map((r) => r.record));
    expect(recording.filter((r) => !covered.has(r.record)).map((r) => r.record)).toEqual([]);
    expect([...covered].filter((r) => !records.has(r))).toEqual([]);
    for (const scenario of recordingScenarios) {
      for (const c of scenario.cases) expect(c.expected.length, c.record).toBeGreaterThan(0);
    }
  });
});

describe("delivered alert conventions", () => {
  it.each(delivered.map((a) => [a.name, a] as const))("%s", (_name, alert) => {
    expect(alert.name).toMatch(/^Infermesh(?:[A-Z][a-z0-9]*)+$/);
    expect(alert.for).toMatch(/^(\d+(ms|s|m|h|d|w|y))+$/);
    expect(durationSeconds(alert.for)).toBeGreaterThanOrEqual(0);
    expect(severities).toContain(alert.severity);
    expect(alert.labels).toEqual({ severity: alert.severity, environment: "staging" });
    expect(alert.annotations.summary).not.toBe("");
    expect(alert.annotations.summary).not.toContain("{{");
    expect(alert.annotations.description).toMatch(/\{\{ \$labels\.|\{\{ \$value/);
    expect(alert.annotations.runbook_url).toBe(runbookUrl(runbookBaseUrl, alert.name));
    expect(alert.annotations.runbook_url.startsWith(`${runbookBaseUrl}#`)).toBe(true);
  });
});
