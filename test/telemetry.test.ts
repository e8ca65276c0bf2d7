import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { Secret } from "kubernetes-models/v1/Secret";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1/StorageClass";
import { describe, expect, it } from "vitest";
import { contractDcgmFields, dcgmCountersCsv } from "../components/dcgmCounters";
import { metrics } from "../monitoring/metrics";
import { revealSecrets, type RecordedResource } from "../synth/runtime";
import { costReport } from "../cost/estimate";
import { priceTable } from "../cost/prices";
import { baseRaw, byType, deploy, one, parse } from "./helpers/stack";

const gpuToleration = { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" };
const system = { nodeSelector: { "infermesh.io/node-class": "system" } };

function withTelemetry(telemetry: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parse({ ...baseRaw(), telemetry, ...extra });
}

const release = (resources: RecordedResource[], name: string) => one(resources, "kubernetes:helm.sh/v3:Release", name).inputs as Record<string, any>;

describe("Helm releases", () => {
  it("device plugin: pinned chart, GPU nodes except Bottlerocket, MIG strategy from the pools", async () => {
    const raw = baseRaw() as Record<string, any>;
    raw.gpuPools.h100 = { instanceTypes: ["p5.48xlarge"], migProfile: "1g.10gb", scaling: { min: 0, desired: 0, max: 1 } };
    const resources = await deploy(parse(raw));
    expect(release(resources, "telemetry-device-plugin")).toEqual({
      name: "nvidia-device-plugin",
      chart: "nvidia-device-plugin",
      version: "0.20.0",
      repositoryOpts: { repo: "https://nvidia.github.io/k8s-device-plugin" },
      namespace: "nvidia-device-plugin",
      compat: "true",
      values: {
        migStrategy: "single",
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: "infermesh.io/node-class", operator: "In", values: ["gpu"] },
                    { key: "infermesh.io/ami-family", operator: "NotIn", values: ["bottlerocket"] },
                    { key: "infermesh.io/gpu-partitioning", operator: "NotIn", values: ["mig"] },
                  ],
                },
              ],
            },
          },
        },
        tolerations: [gpuToleration],
        priorityClassName: "system-node-critical",
        gfd: { enabled: false },
        nfd: { enabled: false },
      },
    });
    // MIG nodes get their own release, gated on the label the MIG manager flips around a reconfiguration.
    const whole = release(resources, "telemetry-device-plugin");
    const mig = release(resources, "telemetry-device-plugin-mig");
    expect(mig.name).toBe("nvidia-device-plugin-mig");
    expect(mig.values.nodeSelector).toEqual({ "nvidia.com/gpu.deploy.client": "true" });
    expect(mig.values.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      {
        matchExpressions: [
          { key: "infermesh.io/node-class", operator: "In", values: ["gpu"] },
          { key: "infermesh.io/ami-family", operator: "NotIn", values: ["bottlerocket"] },
          { key: "infermesh.io/gpu-partitioning", operator: "In", values: ["mig"] },
        ],
      },
    ]);
    // Everything else is the same plugin.
    const { nodeSelector: _a, affinity: _b, ...migRest } = mig.values;
    const { affinity: _c, ...wholeRest } = whole.values;
    expect({ ...mig, name: undefined, values: migRest }).toEqual({ ...whole, name: undefined, values: wholeRest });
    const plain = await deploy(parse(baseRaw()));
    expect(release(plain, "telemetry-device-plugin").values.migStrategy).toBe("none");
    expect(byType(plain, "kubernetes:helm.sh/v3:Release").map((r) => r.name)).not.toContain("telemetry-device-plugin-mig");
    const mixed = await deploy(withTelemetry({ migStrategy: "mixed" }));
    expect(release(mixed, "telemetry-device-plugin").values.migStrategy).toBe("mixed");
  });

  it("DCGM exporter: GPU nodes only, 1Gi, collection interval = scrape interval, contract counters, stack-owned scraping", async () => {
    const resources = await deploy(withTelemetry({ scrapeInterval: "15s" }));
    expect(release(resources, "telemetry-dcgm")).toEqual({
      name: "dcgm-exporter",
      chart: "dcgm-exporter",
      version: "4.8.2",
      repositoryOpts: { repo: "https://nvidia.github.io/dcgm-exporter/helm-charts" },
      namespace: "monitoring",
      compat: "true",
      values: {
        arguments: ["-f", "/etc/dcgm-exporter/default-counters.csv", "-c", "15000"],
        customMetrics: dcgmCountersCsv(contractDcgmFields()),
        nodeSelector: { "nvidia.com/gpu.present": "true" },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "infermesh.io/gpu-partitioning", operator: "NotIn", values: ["mig"] }] }],
            },
          },
        },
        tolerations: [gpuToleration],
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "1Gi" } },
        serviceMonitor: { enabled: false },
        kubernetes: { enablePodLabels: true, podLabelAllowlistRegex: ["^infermesh[._]io[/_](model|revision|tenant)$"] },
      },
    });
    expect(byType(resources, "kubernetes:helm.sh/v3:Release").map((r) => r.name)).not.toContain("telemetry-dcgm-mig");
  });

  it("DCGM exporter on MIG nodes: its own release, started when the MIG manager releases the GPU clients", async () => {
    const raw = baseRaw() as Record<string, any>;
    raw.gpuPools.h100 = { instanceTypes: ["p5.48xlarge"], migProfile: "1g.10gb", scaling: { min: 0, desired: 0, max: 1 } };
    const resources = await deploy(parse(raw));
    const whole = release(resources, "telemetry-dcgm");
    const mig = release(resources, "telemetry-dcgm-mig");
    expect(mig.name).toBe("dcgm-exporter-mig");
    expect(mig.values.nodeSelector).toEqual({ "nvidia.com/gpu.present": "true", "nvidia.com/gpu.deploy.client": "true" });
    expect(mig.values.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: "infermesh.io/gpu-partitioning", operator: "In", values: ["mig"] }] },
    ]);
    // Everything else is the same exporter.
    const { nodeSelector: _a, affinity: _b, ...migRest } = mig.values;
    const { nodeSelector: _c, affinity: _d, ...wholeRest } = whole.values;
    expect(migRest).toEqual(wholeRest);
  });

  it("kube-prometheus-stack in-cluster: pinned, system nodes, gp3 volume, retention, open selectors, no Grafana", async () => {
    const resources = await deploy(withTelemetry({ retention: "30d", volumeSizeGiB: 250 }));
    const kps = release(resources, "telemetry-prometheus");
    expect({ ...kps, values: undefined }).toEqual({
      name: "kps",
      chart: "kube-prometheus-stack",
      version: "82.6.0",
      repositoryOpts: { repo: "https://prometheus-community.github.io/helm-charts" },
      namespace: "monitoring",
      compat: "true",
      timeout: 900,
      values: undefined,
    });
    const selector = { matchLabels: { release: "kps" } };
    expect(kps.values).toEqual({
      fullnameOverride: "kps",
      grafana: { enabled: false },
      prometheusOperator: { ...system, admissionWebhooks: { patch: system } },
      "kube-state-metrics": {
        ...system,
        metricLabelsAllowlist: ["nodes=[infermesh.io/node-class,infermesh.io/pool,infermesh.io/capacity,topology.kubernetes.io/zone]"],
      },
      "prometheus-node-exporter": { tolerations: [gpuToleration] },
      // No Grafana in this stack, so Prometheus evaluates the alerts and Alertmanager routes them from the stack's Secret.
      alertmanager: { alertmanagerSpec: { ...system, useExistingSecret: true, configSecret: "alertmanager-infermesh" } },
      prometheus: {
        serviceAccount: { annotations: {} },
        prometheusSpec: {
          ...system,
          scrapeInterval: "30s",
          evaluationInterval: "30s",
          retention: "30d",
          externalLabels: { cluster: "infermesh-dev", environment: "dev" },
          serviceMonitorSelector: selector,
          podMonitorSelector: selector,
          ruleSelector: selector,
          serviceMonitorNamespaceSelector: {},
          podMonitorNamespaceSelector: {},
          ruleNamespaceSelector: {},
          storageSpec: { volumeClaimTemplate: { spec: { storageClassName: "gp3", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "250Gi" } } } } },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
          remoteWrite: [],
        },
      },
    });
    expect(byType(resources, "aws:amp/workspace:Workspace")).toEqual([]);
  });

  it("kube-prometheus-stack with AMP: SigV4 remote write through an IRSA role on the Prometheus service account", async () => {
    const resources = await deploy(withTelemetry({ backend: "amp" }));
    const spec = release(resources, "telemetry-prometheus").values.prometheus;
    expect(spec.serviceAccount).toEqual({ annotations: { "eks.amazonaws.com/role-arn": "arn:aws:synth:000000000000:telemetry-prometheus-amp-writer" } });
    expect(spec.prometheusSpec.remoteWrite).toEqual([
      {
        url: "https://aps-workspaces.synth.invalid/workspaces/telemetry-prometheus-amp/api/v1/remote_write",
        sigv4: { region: "us-west-2" },
        queueConfig: { capacity: 2500, maxSamplesPerSend: 1000, maxShards: 200 },
      },
    ]);
    expect(one(resources, "aws:amp/workspace:Workspace", "telemetry-prometheus-amp").inputs).toEqual({ alias: "infermesh-dev" });
    const trust = JSON.parse(one(resources, "aws:iam/role:Role", "telemetry-prometheus-amp-writer").inputs.assumeRolePolicy as string);
    expect(trust.Statement[0].Condition.StringEquals["oidc.eks.synth.invalid/id/cluster:sub"]).toBe("system:serviceaccount:monitoring:kps-prometheus");
  });

  it("AMP workspace configuration: a per-model active-series limit, so one runaway model is throttled alone", async () => {
    const models = { "gpt-7b": {}, "llama-70b": {} };
    const config = withTelemetry({ backend: "amp" }, { models });
    const resources = await deploy(config);
    // Twice one model's estimated share at max size (cost/estimate.ts), in thousands.
    const share = costReport(config).metrics.seriesPerModelAtMax;
    const maxSeries = Math.ceil((2 * share) / 1000) * 1000;
    expect(share).toBeGreaterThan(100);
    const limits = one(resources, "aws:amp/workspaceConfiguration:WorkspaceConfiguration", "telemetry-prometheus-amp-limits");
    expect(limits.inputs).toEqual({
      workspaceId: "telemetry-prometheus-amp-id",
      limitsPerLabelSets: [
        { labelSet: { model: "gpt-7b" }, limits: { maxSeries } },
        { labelSet: { model: "llama-70b" }, limits: { maxSeries } },
      ],
    });
    expect(limits.parent).toContain("infermesh:monitoring:PrometheusStack");

    const set = await deploy(withTelemetry({ backend: "amp" }, { models, budget: { maxActiveSeriesPerModel: 25000 } }));
    expect(one(set, "aws:amp/workspaceConfiguration:WorkspaceConfiguration", "telemetry-prometheus-amp-limits").inputs.limitsPerLabelSets).toEqual([
      { labelSet: { model: "gpt-7b" }, limits: { maxSeries: 25000 } },
      { labelSet: { model: "llama-70b" }, limits: { maxSeries: 25000 } },
    ]);
    // Without AMP there is no workspace to configure.
    expect(byType(await deploy(withTelemetry({ backend: "in-cluster" }, { models })), "aws:amp/workspaceConfiguration:WorkspaceConfiguration")).toEqual([]);
  });

  it("the stack carries its cost estimate at max size and its budget for the policy pack", async () => {
    const config = withTelemetry({ backend: "amp" }, { budget: { maxMonthlyCostUsd: 9000, maxActiveSeries: 50000 } });
    const resources = await deploy(config);
    const report = costReport(config);
    const budget = one(resources, "infermesh:cost:Budget", "cost");
    expect(budget.custom).toBe(false);
    expect(budget.inputs).toEqual({
      environment: "dev",
      monthlyUsdAtMax: report.monthlyUsdAtMax,
      activeSeriesAtMax: report.metrics.sizes.max.activeSeries,
      pricesTakenOn: priceTable.takenOn,
      maxMonthlyCostUsd: 9000,
      maxActiveSeries: 50000,
    });
    expect(report.monthlyUsdAtMax).toBeGreaterThan(1000);
  });

  it("AMP remote-write policy allows exactly aps:RemoteWrite on the workspace", async () => {
    const resources = await deploy(withTelemetry({ backend: "amp" }));
    const policy = one(resources, "aws:iam/rolePolicy:RolePolicy", "telemetry-prometheus-amp-writer");
    expect(policy.inputs.role).toBe("telemetry-prometheus-amp-writer-id");
    expect(JSON.parse(policy.inputs.policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: ["aps:RemoteWrite"], Resource: "arn:aws:aps:synth:000000000000:workspace/telemetry-prometheus-amp" }],
    });
  });

  it("prod keeps volumes and protects the AMP workspace", async () => {
    const raw = { ...baseRaw(), environment: "prod", telemetry: { backend: "amp" } } as Record<string, any>;
    raw.gpuPools.l4.scaling = { min: 1, desired: 1, max: 2 };
    raw.gpuPools.l4.capacity = "on-demand";
    const resources = await deploy(parse(raw));
    expect(one(resources, "aws:amp/workspace:Workspace", "telemetry-prometheus-amp").protect).toBe(true);
    expect(one(resources, "kubernetes:storage.k8s.io/v1:StorageClass", "telemetry-prometheus-gp3").inputs.reclaimPolicy).toBe("Retain");
    expect(release(resources, "telemetry-prometheus").values.prometheus.prometheusSpec.persistentVolumeClaimRetentionPolicy).toEqual({
      whenDeleted: "Retain",
      whenScaled: "Retain",
    });
  });
});

describe("Kubernetes objects", () => {
  const models: Record<string, (inputs: any) => { validate(): void }> = {
    "kubernetes:core/v1:Namespace": (i) => new Namespace(i),
    "kubernetes:storage.k8s.io/v1:StorageClass": (i) => new StorageClass(i),
    "kubernetes:monitoring.coreos.com/v1:PodMonitor": (i) => new PodMonitor(i),
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": (i) => new PrometheusRule(i),
    "kubernetes:core/v1:Secret": (i) => new Secret(i),
    "kubernetes:core/v1:ConfigMap": (i) => new ConfigMap(i),
  };

  it("every object the stack creates is valid against its published schema", async () => {
    // Prometheus-evaluated alerts and an in-cluster Grafana between them create every kind of object the stack has.
    const withGrafana = await deploy(parse({ ...baseRaw(), grafana: { mode: "in-cluster" } }));
    const resources = [...(await deploy(parse(baseRaw()))), ...withGrafana]
      .filter((r) => r.type.startsWith("kubernetes:") && r.type !== "kubernetes:helm.sh/v3:Release")
      .map((r) => ({ ...r, inputs: revealSecrets(r.inputs) as Record<string, unknown> }));
    expect(new Set(resources.map((r) => r.type)).size).toBe(Object.keys(models).length);
    for (const r of resources) {
      const model = models[r.type];
      expect(model, `no schema for ${r.type}`).toBeDefined();
      const [group, version, kind] = r.type.replace(/^kubernetes:/, "").split(/[/:]/);
      const apiVersion = group === "core" ? version : `${group}/${version}`;
      expect(() => model!({ apiVersion, kind, ...r.inputs }).validate(), r.name).not.toThrow();
    }
  });

  it("the schema check catches a bad PodMonitor", () => {
    expect(() =>
      new PodMonitor({ metadata: { name: "x" }, spec: { selector: {}, podMetricsEndpoints: [{ port: "m", relabelings: [{ action: "rename" as never }] }] } }).validate(),
    ).toThrow(/action/);
  });
});

describe("DCGM counters file", () => {
  const csv = dcgmCountersCsv(contractDcgmFields());
  const lines = csv.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));

  it("parses in dcgm-exporter's format: three fields a line, known metric types", () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const parts = line.split(",").map((p) => p.trim());
      expect(parts, line).toHaveLength(3);
      expect(parts[0], line).toMatch(/^DCGM_(FI|EXP)_[A-Z0-9_]+$/);
      expect(["gauge", "counter", "histogram", "summary", "label"], line).toContain(parts[1]);
      expect(parts[2]!.length, line).toBeGreaterThan(0);
    }
  });

  it("collects total framebuffer, ECC, throttling, XID, temperature, power and a MIG-capable utilization signal", () => {
    const names = lines.map((l) => l.split(",")[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        "DCGM_FI_DEV_FB_TOTAL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
        "DCGM_FI_DEV_THERMAL_VIOLATION",
        "DCGM_FI_DEV_POWER_VIOLATION",
        "DCGM_FI_DEV_XID_ERRORS",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
      ]),
    );
  });

  it("lists exactly the DCGM metrics of the contract, with the contract's types", () => {
    const dcgm = Object.entries(metrics).filter(([, m]) => m.source === "dcgm");
    expect(
      lines.map((l) =>
        l
          .split(",")
          .slice(0, 2)
          .map((p) => p.trim()),
      ),
    ).toEqual(dcgm.map(([name, m]) => [name, m.type]));
  });
});
