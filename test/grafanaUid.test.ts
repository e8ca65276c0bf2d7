/**
 * Every Grafana uid a stack creates, for every stack name Pulumi accepts:
 * valid for Grafana and never shared, within a stack or between stacks.
 */
import { describe, expect, it } from "vitest";
import { alertingPlan, grafanaRulePlan } from "../components/alerting.plan";
import type { StackConfig } from "../config";
import { folderFor } from "../components/grafanaContent.plan";
import { dataSourceUid } from "../domain/naming";
import { integrationUid, routedSeverities } from "../components/routing";
import { dashboardKeys, dashboardUid } from "../dashboards/context";
import { grafanaUid, maxUidLength, validUid } from "../domain/naming";
import { ruleUid } from "../alerts/grafanaRules";
import { baseRaw, parse } from "./helpers/stack";

/**
 * Pulumi's rule for stack names (pulumi/pulumi, pkg/backend/diy/store.go `ParseReference`):
 * "stack names are limited to 100 characters and may only contain alphanumeric, hyphens, underscores, or periods".
 */
const pulumiStackName = /^[A-Za-z0-9_.-]{1,100}$/;
const stackChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

/** Deterministic generator (mulberry32), so a failure names a stack that fails again. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generatedStackNames(count: number): string[] {
  const next = random(20261202);
  const names = new Set<string>();
  while (names.size < count) {
    // Lengths spread over 1–100, weighted to the 20–60 range where readable and hashed forms meet.
    const length = next() < 0.5 ? 20 + Math.floor(next() * 41) : 1 + Math.floor(next() * 100);
    let name = "";
    for (let i = 0; i < length; i++) name += stackChars[Math.floor(next() * stackChars.length)];
    names.add(name);
  }
  return [...names];
}

/** Names built to collide under cutting, character replacement, or a dash read as a separator. */
const adversarial = [
  "dev",
  "test-pr-1234-long-feature-name",
  "test-pr-1234-long-feature-name-2",
  "a-alert",
  "a",
  "a_alert",
  "a.b",
  "a-b",
  "a_b",
  "x".repeat(100),
  `${"x".repeat(99)}y`,
  "im-dev",
  "imh-dev",
  "dev-folder",
  "dev-cp",
  "0123456789abcdef0123456789abcdef",
];

const contactPoints = {
  "on-call": { type: "pagerduty", secret: "pd" },
  chat: { type: "slack", secret: "hook" },
  mail: { type: "email", secret: "mail" },
};
const secrets = { pd: "pd-key", hook: "https://hooks.slack.invalid/x", mail: "ops@example.com" };

function configFor(stack: string): StackConfig {
  const raw = {
    ...baseRaw(),
    secrets,
    grafana: { mode: "external", url: "https://grafana.example.com", tokenSecret: "hook", prometheusUrl: "https://prometheus.example.com" },
    alerting: { contactPoints, routes: { critical: ["on-call", "chat"], warning: ["chat", "mail"], info: ["mail"] } },
  };
  return parse(raw, stack, ["secrets"]);
}

/** Every Grafana uid the stack's objects get: folder, data source, dashboards, alert rules, contact point integrations. */
function stackUids(config: StackConfig): string[] {
  const rules = grafanaRulePlan(config, alertingPlan(config).alerts).flatMap((g) => g.rules.map((r) => r.uid));
  const integrations = routedSeverities(config.alerting).flatMap(({ severity, contactPoints: cps }) => cps.map((cp) => integrationUid(config.stack, severity, cp.name)));
  return [folderFor(config).uid, dataSourceUid(config.stack), ...dashboardKeys.map((k) => dashboardUid(config.stack, k)), ...rules, ...integrations];
}

describe("Grafana uids", () => {
  it("the stack name the README suggests for a test stack gets one uid per rule", () => {
    const config = configFor("test-pr-1234-long-feature-name");
    const rules = grafanaRulePlan(config, alertingPlan(config).alerts).flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(15);
    expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
  });

  it("dev, staging and prod keep the readable uids they were deployed with", () => {
    const config = configFor("dev");
    expect(stackUids(config).slice(0, 3)).toEqual(["im-dev-folder", "im-dev-prometheus", "im-dev-overview"]);
    expect(grafanaRulePlan(config, alertingPlan(config).alerts)[0]?.rules.map((r) => r.uid)).toContain("im-dev-alert-HighQueueDepth");
    expect(integrationUid("dev", "critical", "chat")).toBe("im-dev-cp-critical-chat");
    // A stack name with a dash: the parts follow the last one.
    expect(dashboardUid("test-pr-7", "overview")).toBe("im_test-pr-7-overview");
    expect(ruleUid("test-pr-7", "InfermeshNodeDown")).toBe("im_test-pr-7-alert_NodeDown");
    // A part that is not alphanumeric could be read two ways: hashed instead.
    expect(integrationUid("dev", "critical", "on-call")).toMatch(/^imh-dev-cp_critical_on-call-[0-9a-f]{12}$/);
  });

  it("are valid and distinct for every stack name up to Pulumi's limit", () => {
    const names = [...adversarial, ...generatedStackNames(300)];
    const owner = new Map<string, string>();
    for (const stack of names) {
      expect(stack).toMatch(pulumiStackName);
      const uids = stackUids(configFor(stack));
      for (const uid of uids) {
        expect(uid.length, `${stack}: ${uid}`).toBeLessThanOrEqual(maxUidLength);
        expect(uid, stack).toMatch(validUid);
        const previous = owner.get(uid);
        expect(previous === undefined ? undefined : `${uid} is used by ${previous}`, `${stack}: ${uid}`).toBeUndefined();
        owner.set(uid, stack);
      }
    }
    expect(owner.size).toBe(names.length * stackUids(configFor("dev")).length);
  });

  it("refuses an object without a name part", () => {
    expect(() => grafanaUid("dev")).toThrow("at least one part");
  });
});
