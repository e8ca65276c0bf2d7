/**
 * What happens on each kind of GPU node as a real cluster runs it: which
 * DaemonSet pods land on it at join, what the GPU Operator does to its labels,
 * what mig-parted does around a reconfiguration, and what Cluster Autoscaler
 * makes of it. The upstream behaviour is transcribed below from the pinned
 * sources (repository, tag, path in each comment); the stack's side is the
 * real node labels and Helm values it renders.
 */
import { describe, expect, it } from "vitest";
import type { GpuPoolConfig, MigStrategy } from "../config";
import { dcgmExporterValues, dcgmRelease } from "../components/dcgmExporter.values";
import { devicePluginRelease } from "../components/devicePlugin";
import { devicePluginValues } from "../components/devicePlugin.values";
import { gpuNodeLabels } from "../components/gpuPlacement";
import { acceleratorLabel, agentPlacements, placementSuffix, type NodeSelectorRequirement } from "../components/gpuPlacement";
import { gpuOperatorValues } from "../components/migManager.values";
import { gpuResources } from "../components/nodeTemplate";
import { baseRaw, parse } from "./helpers/stack";

type Labels = Record<string, string>;

interface DaemonSet {
  name: string;
  nodeSelector: Labels;
  terms: { matchExpressions: NodeSelectorRequirement[] }[];
}

/** Kubernetes' node selection for a DaemonSet pod: every nodeSelector pair, and one affinity term whose expressions all hold. */
function schedules(ds: DaemonSet, labels: Labels): boolean {
  const selectorOk = Object.entries(ds.nodeSelector).every(([k, v]) => labels[k] === v);
  const termOk = (t: { matchExpressions: NodeSelectorRequirement[] }) =>
    t.matchExpressions.every((e) => {
      const v = labels[e.key];
      switch (e.operator) {
        case "In":
          return v !== undefined && (e.values ?? []).includes(v);
        case "NotIn":
          return v === undefined || !(e.values ?? []).includes(v);
        case "Exists":
          return v !== undefined;
        case "DoesNotExist":
          return v === undefined;
      }
    });
  return selectorOk && (ds.terms.length === 0 || ds.terms.some(termOk));
}

// --- Upstream: NVIDIA/gpu-operator, tag v26.7.0 -------------------------------------------

/** assets/state-mig-manager/0600_daemonset.yaml: `nodeSelector: nvidia.com/gpu.deploy.mig-manager: "true"`. */
const migManagerDaemonSet: DaemonSet = { name: "nvidia-mig-manager", nodeSelector: { "nvidia.com/gpu.deploy.mig-manager": "true" }, terms: [] };

/** controllers/state_manager.go `gpuStateLabels[container]`: what the operator puts on a GPU node it manages. */
const containerStateLabels = [
  "nvidia.com/gpu.deploy.driver",
  "nvidia.com/gpu.deploy.gpu-feature-discovery",
  "nvidia.com/gpu.deploy.container-toolkit",
  "nvidia.com/gpu.deploy.device-plugin",
  "nvidia.com/gpu.deploy.dcgm",
  "nvidia.com/gpu.deploy.dcgm-exporter",
  "nvidia.com/gpu.deploy.node-status-exporter",
  "nvidia.com/gpu.deploy.operator-validator",
  "nvidia.com/gpu.deploy.client",
];
const migManagerKey = "nvidia.com/gpu.deploy.mig-manager";

/** deployments/gpu-operator/values.yaml `node-feature-discovery.worker.config.sources.pci.deviceLabelFields: [vendor]`: NVIDIA's PCI vendor label. */
const nfdNvidiaLabel = "feature.node.kubernetes.io/pci-10de.present";

/**
 * One pass of the operator's node labelling (controllers/nodelabeling_controller.go `labelGPUNodes`):
 * `reconcileCommonGPULabel` keeps `nvidia.com/gpu.present` in step with NFD's PCI label; `updateGPUStateLabels`
 * removes every state label (mig-manager included) from a node without it or with
 * `nvidia.com/gpu.deploy.operands=false` (state_manager.go `hasOperandsDisabled`, `removeAllGPUStateLabels`),
 * otherwise adds each missing or empty state label as "true" and honours any other value
 * (`addGPUStateLabels`), sets mig-manager only from GPU feature discovery's labels (`hasMIGCapableGPU`:
 * `nvidia.com/mig.capable` or an A100/H100/A30 `nvidia.com/gpu.product`), and never removes mig-manager in the
 * container config (`removeGPUStateLabels`).
 */
function operatorLabelPass(input: Labels): Labels {
  const labels = { ...input };
  if (labels["nvidia.com/gpu.present"] !== "true" && labels[nfdNvidiaLabel] === "true") labels["nvidia.com/gpu.present"] = "true";
  else if (labels["nvidia.com/gpu.present"] === "true" && labels[nfdNvidiaLabel] !== "true") labels["nvidia.com/gpu.present"] = "false";
  const removeAll = () => {
    for (const key of [...containerStateLabels, migManagerKey]) delete labels[key];
  };
  if (labels["nvidia.com/gpu.present"] !== "true" || labels["nvidia.com/gpu.deploy.operands"] === "false") {
    removeAll();
    return labels;
  }
  for (const key of containerStateLabels) if (!labels[key]) labels[key] = "true";
  const product = (labels["nvidia.com/gpu.product"] ?? "").toLowerCase();
  const migCapable = "nvidia.com/mig.capable" in labels ? labels["nvidia.com/mig.capable"] === "true" : /h100|a100|a30/.test(product);
  if (migCapable && !(migManagerKey in labels)) labels[migManagerKey] = "true";
  return labels;
}

// --- Upstream: NVIDIA/mig-parted, tag v0.15.0, pkg/mig/reconfigure/reconfigure.go ----------

const clientKey = "nvidia.com/gpu.deploy.client";
/** `maybeSetPaused` / `maybeSetTrue`: any value but "false" becomes paused, then "true". */
const maybeSetPaused = (v: string) => (v === "false" ? "false" : "paused-for-mig-change");
const maybeSetTrue = (v: string) => (v === "false" ? "false" : "true");

/**
 * A reconfiguration as `Reconfigure` runs it: read the client label (`getCurrentNodeLabels`), pause it only
 * when it is set (`if len(r.gpuClientDeployed) > 0`), wait for every DaemonSet pod on the node whose
 * *nodeSelector* has the client key (`waitForPodsWithNodeSelector`), apply the layout, set it back to "true".
 * Returns the labels while partitioning, the pods that still hold GPUs then (the DaemonSet controller removes
 * pods whose node no longer matches; mig-parted waits only for the ones it can see), and the labels after.
 */
function migPartedReconfigure(labels: Labels, daemonSets: DaemonSet[]) {
  const client = labels[clientKey] ?? "";
  const during = { ...labels, ...(client.length > 0 ? { [clientKey]: maybeSetPaused(client) } : {}) };
  const waitedFor = daemonSets.filter((ds) => schedules(ds, labels) && clientKey in ds.nodeSelector).map((ds) => ds.name);
  const holding = daemonSets.filter((ds) => ds.name !== migManagerDaemonSet.name && schedules(ds, during)).map((ds) => ds.name);
  const after = { ...during, ...(client.length > 0 ? { [clientKey]: maybeSetTrue(client) } : {}) };
  return { during, waitedFor, holding, after };
}

// --- The stack ------------------------------------------------------------------------------

/**
 * The agent DaemonSets the stack installs. Both charts copy the values into the pod spec as they are:
 * NVIDIA/k8s-device-plugin v0.20.0 deployments/helm/nvidia-device-plugin/templates/daemonset-device-plugin.yml
 * (`with .Values.nodeSelector`, `with .Values.affinity`), and NVIDIA/dcgm-exporter 4.5.3-4.8.2
 * deployment/templates/daemonset.yaml (`if .Values.affinity`, `if .Values.nodeSelector`).
 */
function stackDaemonSets(pools: GpuPoolConfig[], strategy: MigStrategy): DaemonSet[] {
  return agentPlacements(pools).flatMap((placement) => {
    const plugin = devicePluginValues(strategy, placement);
    const dcgm = dcgmExporterValues({ scrapeIntervalSeconds: 30, fields: [] }, placement);
    return [
      {
        name: `${devicePluginRelease}${placementSuffix(placement)}`,
        nodeSelector: plugin.nodeSelector ?? {},
        terms: plugin.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
      },
      {
        name: `${dcgmRelease}${placementSuffix(placement)}`,
        nodeSelector: dcgm.nodeSelector,
        terms: dcgm.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
      },
    ];
  });
}

/** A prod-like stack: whole GPUs on AL2023 and Bottlerocket, and an A100 pool partitioned with MIG. */
function fleet(strategy?: MigStrategy) {
  const raw = baseRaw() as Record<string, any>;
  raw.environment = "staging";
  raw.gpuPools = {
    l4: { instanceTypes: ["g6.2xlarge"], scaling: { min: 1, desired: 1, max: 4 } },
    h100: { instanceTypes: ["p5.48xlarge"], amiFamily: "bottlerocket", scaling: { min: 1, desired: 1, max: 4 } },
    "a100-mig": { instanceTypes: ["p4de.24xlarge"], migProfile: "3g.40gb", scaling: { min: 1, desired: 1, max: 4 } },
  };
  if (strategy) raw.telemetry = { migStrategy: strategy };
  const config = parse(raw, "staging");
  const pools = Object.values(config.gpuPools);
  const migStrategy = config.telemetry.migStrategy;
  const daemonSets = [...stackDaemonSets(pools, migStrategy), migManagerDaemonSet];
  // With a MIG pool the stack installs the GPU Operator, whose NFD labels every GPU node's PCI vendor.
  const joined = (name: string): Labels => ({ ...gpuNodeLabels(config.gpuPools[name]!, migStrategy), [nfdNvidiaLabel]: "true" });
  const running = (labels: Labels) =>
    daemonSets
      .filter((ds) => schedules(ds, labels))
      .map((ds) => ds.name)
      .sort();
  return { config, pools, migStrategy, daemonSets, joined, running };
}

describe("GPU node ownership, step by step", () => {
  it("the stack installs the GPU Operator without GPU feature discovery, so only the node group can ask for the MIG manager", () => {
    const { pools, migStrategy } = fleet();
    // Without discovery nothing sets nvidia.com/mig.capable or nvidia.com/gpu.product (hasMIGCapableGPU's inputs).
    expect(gpuOperatorValues(pools, migStrategy).gfd).toEqual({ enabled: false });
    expect(operatorLabelPass({ "nvidia.com/gpu.present": "true", [nfdNvidiaLabel]: "true" })[migManagerKey]).toBeUndefined();
  });

  it("a whole-GPU AL2023 node runs one device plugin and one exporter from the start; the operator leaves it alone", () => {
    const { joined, running } = fleet();
    const labels = operatorLabelPass(joined("l4"));
    expect(labels).toEqual(joined("l4"));
    expect(running(labels)).toEqual(["dcgm-exporter", "nvidia-device-plugin"]);
  });

  it("a Bottlerocket node runs only the exporter (the OS ships the device plugin); no operator operand lands there", () => {
    const { joined, running } = fleet();
    const labels = operatorLabelPass(joined("h100"));
    expect(Object.keys(labels).filter((k) => k.startsWith("nvidia.com/gpu.deploy.") && k !== "nvidia.com/gpu.deploy.operands")).toEqual([]);
    expect(running(labels)).toEqual(["dcgm-exporter"]);
  });

  it("a MIG node: join → partition → advertise slices → export metrics, each by one owner", () => {
    const { joined, running, daemonSets } = fleet();
    // Join: the operator adds its state labels but honours the paused client label the node joined with.
    const atJoin = operatorLabelPass(joined("a100-mig"));
    expect(atJoin).toMatchObject({
      "nvidia.com/mig.config": "all-3g.40gb",
      [migManagerKey]: "true",
      [clientKey]: "paused-for-mig-change",
      // The MIG manager's init container waits for the operator-validator's toolkit check.
      "nvidia.com/gpu.deploy.operator-validator": "true",
    });
    // Nothing holds or advertises a GPU before partitioning: only the MIG manager runs.
    expect(running(atJoin)).toEqual(["nvidia-mig-manager"]);

    // Partition: mig-parted applies the layout with no GPU client on the node, then releases the clients.
    const first = migPartedReconfigure(atJoin, daemonSets);
    expect(first.holding).toEqual([]);
    expect(first.after[clientKey]).toBe("true");
    // Advertise slices and export metrics: the MIG releases start only now.
    const partitioned = operatorLabelPass(first.after);
    expect(running(partitioned)).toEqual(["dcgm-exporter-mig", "nvidia-device-plugin-mig", "nvidia-mig-manager"]);

    // A later layout change: mig-parted waits for both agents (their nodeSelector carries the client key),
    // none of them holds a GPU while it reconfigures, and both start again afterwards (re-enumerating slices).
    const again = migPartedReconfigure(partitioned, daemonSets);
    expect(again.waitedFor.sort()).toEqual(["dcgm-exporter-mig", "nvidia-device-plugin-mig"]);
    expect(again.holding).toEqual([]);
    expect(running(operatorLabelPass(again.after))).toEqual(["dcgm-exporter-mig", "nvidia-device-plugin-mig", "nvidia-mig-manager"]);
  });

  it.each(["single", "mixed"] as const)("every GPU node ends with exactly one exporter and at most one device plugin (%s)", (strategy) => {
    const { pools, joined, running, daemonSets } = fleet(strategy);
    for (const pool of pools) {
      let labels = operatorLabelPass(joined(pool.name));
      if (pool.mig) labels = operatorLabelPass(migPartedReconfigure(labels, daemonSets).after);
      const names = running(labels);
      expect(
        names.filter((n) => n.startsWith("dcgm-exporter")),
        pool.name,
      ).toHaveLength(1);
      expect(
        names.filter((n) => n.startsWith("nvidia-device-plugin")),
        pool.name,
      ).toHaveLength(pool.amiFamily === "bottlerocket" ? 0 : 1);
    }
  });

  it("a stack without MIG pools installs one release of each agent, as before", () => {
    const raw = baseRaw();
    const config = parse(raw);
    expect(stackDaemonSets(Object.values(config.gpuPools), config.telemetry.migStrategy).map((d) => d.name)).toEqual(["nvidia-device-plugin", "dcgm-exporter"]);
  });
});

// --- Upstream: kubernetes/autoscaler, tag cluster-autoscaler-1.34.0 ---------------------------

/** cluster-autoscaler/cloudprovider/aws/aws_cloud_provider.go: `GPULabel = "k8s.amazonaws.com/accelerator"`. */
const caGpuLabel = "k8s.amazonaws.com/accelerator";

/**
 * cluster-autoscaler/processors/customresources/gpu_processor.go `FilterOutNodesWithUnreadyResources`: a Ready
 * node that carries the GPU label but has no (or zero) allocatable `nvidia.com/gpu` is treated as not ready, so
 * the autoscaler counts it as capacity on its way instead of scaling out again. Without the label such a node is
 * simply a node the pending pod does not fit on.
 */
const caSeesUpcomingGpuNode = (labels: Labels, allocatableGpu: number) => caGpuLabel in labels && allocatableGpu === 0;

describe("Cluster Autoscaler and GPU nodes", () => {
  it("the label the stack sets is the one the AWS provider reads", () => {
    expect(acceleratorLabel).toBe(caGpuLabel);
  });

  it.each(["single", "mixed"] as const)("a new node whose device plugin has not registered yet is waited for, not bought again (%s)", (strategy) => {
    const { pools, joined } = fleet(strategy);
    for (const pool of pools) {
      const labels = joined(pool.name);
      const advertises = gpuResources(pool, strategy)["nvidia.com/gpu"] ?? 0;
      if (advertises > 0) {
        // Before the plugin registers: waited for. Once it advertises: an ordinary ready node.
        expect(caSeesUpcomingGpuNode(labels, 0), pool.name).toBe(true);
        expect(caSeesUpcomingGpuNode(labels, advertises), pool.name).toBe(false);
        expect(labels[caGpuLabel]).toBe(`nvidia-${pool.gpu.toLowerCase()}`);
      } else {
        // Mixed-strategy MIG nodes never advertise nvidia.com/gpu: the label would keep them "not ready" forever.
        expect(strategy).toBe("mixed");
        expect(pool.mig).toBeDefined();
        expect(caGpuLabel in labels, pool.name).toBe(false);
      }
    }
  });
});
