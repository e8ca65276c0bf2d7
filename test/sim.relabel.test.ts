/**
 * applyRelabelings against Prometheus' relabel semantics (model/relabel in
 * prometheus/prometheus v2.42.0, relabel.go: anchored regex, default `(.*)`
 * and `$1`, `;` separator, an empty replacement deletes the target, an
 * invalid target label name skips the rule, hashmod = MD5 low 8 bytes).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { dcgmScrapeJob, operatorRelabelings } from "../components/scrapeJobs";
import { applyRelabelings, fromPrometheusRelabel, type Relabeling } from "../sim/relabel";

type Case = [name: string, labels: Record<string, string>, rules: Relabeling[], want: Record<string, string> | undefined];

const cases: Case[] = [
  ["replace with the defaults copies the joined source labels", { a: "x", b: "y" }, [{ sourceLabels: ["a", "b"], targetLabel: "c" }], { a: "x", b: "y", c: "x;y" }],
  ["the separator joins the source labels", { a: "x", b: "y" }, [{ sourceLabels: ["a", "b"], separator: "/", targetLabel: "c" }], { a: "x", b: "y", c: "x/y" }],
  ["a missing source label joins as empty", { a: "x" }, [{ sourceLabels: ["a", "b"], targetLabel: "c" }], { a: "x", c: "x;" }],
  ["the regex is anchored: a partial match does not replace", { a: "abc" }, [{ sourceLabels: ["a"], regex: "b", targetLabel: "c", replacement: "hit" }], { a: "abc" }],
  [
    "capture groups expand in replacement, $1 and ${1}",
    { a: "ip-10-0-1-2" },
    [{ sourceLabels: ["a"], regex: "ip-(\\d+)-(.*)", targetLabel: "c", replacement: "${1}.$2" }],
    { a: "ip-10-0-1-2", c: "10.0-1-2" },
  ],
  ["capture groups expand in the target label", { a: "zone" }, [{ sourceLabels: ["a"], regex: "(.*)", targetLabel: "my_$1", replacement: "v" }], { a: "zone", my_zone: "v" }],
  ["an empty replacement deletes the target label", { a: "", t: "old" }, [{ sourceLabels: ["a"], targetLabel: "t" }], {}],
  ["an invalid target label name skips the rule", { a: "x" }, [{ sourceLabels: ["a"], targetLabel: "1bad" }], { a: "x" }],
  ["a constant replacement with no source labels", {}, [{ action: "replace", targetLabel: "job", replacement: "monitoring/dcgm" }], { job: "monitoring/dcgm" }],
  ["keep keeps a match", { a: "x" }, [{ action: "keep", sourceLabels: ["a"], regex: "x|y" }], { a: "x" }],
  ["keep drops a non-match", { a: "xx" }, [{ action: "keep", sourceLabels: ["a"], regex: "x" }], undefined],
  ["drop drops a match", { a: "x" }, [{ action: "drop", sourceLabels: ["a"], regex: "x" }], undefined],
  ["drop keeps a non-match", { a: "x" }, [{ action: "drop", sourceLabels: ["a"], regex: "y" }], { a: "x" }],
  [
    "labelmap copies matching names, keeping the originals",
    { __meta_pod_label_app: "a", other: "o" },
    [{ action: "labelmap", regex: "__meta_pod_label_(.+)" }],
    { __meta_pod_label_app: "a", app: "a", other: "o" },
  ],
  ["labeldrop removes names matching the anchored regex", { pod: "p", pod_ip: "i", namespace: "n" }, [{ action: "labeldrop", regex: "pod|namespace" }], { pod_ip: "i" }],
  ["labelkeep keeps only names matching", { __name__: "m", a: "1", b: "2" }, [{ action: "labelkeep", regex: "__name__|a" }], { __name__: "m", a: "1" }],
  [
    "hashmod writes the low 8 bytes of the MD5, modulo",
    { node: "node-a" },
    [{ action: "hashmod", sourceLabels: ["node"], modulus: 8, targetLabel: "shard" }],
    { node: "node-a", shard: hashmodExpected("node-a", 8) },
  ],
  [
    "rules apply in order: a later rule sees an earlier one's label",
    { a: "x" },
    [
      { sourceLabels: ["a"], targetLabel: "b" },
      { action: "keep", sourceLabels: ["b"], regex: "x" },
    ],
    { a: "x", b: "x" },
  ],
  ["empty input values are absent", { a: "", b: "y" }, [], { b: "y" }],
];

/** Independent of the implementation: the digest's last 16 hex digits as a BigInt. */
function hashmodExpected(value: string, modulus: number): string {
  const hex = createHash("md5").update(value).digest("hex");
  return (BigInt(`0x${hex.slice(16)}`) % BigInt(modulus)).toString();
}

describe("applyRelabelings", () => {
  it.each(cases)("%s", (_name, labels, rules, want) => {
    expect(applyRelabelings(labels, rules)).toEqual(want);
  });

  it("hashmod requires a modulus", () => {
    expect(() => applyRelabelings({ a: "x" }, [{ action: "hashmod", sourceLabels: ["a"], targetLabel: "s" }])).toThrow("hashmod needs a positive modulus, got undefined");
  });

  it("runs the stack's dcgm-exporter rules: keeps its pods by selector and port, renames and drops the exporter's labels", () => {
    const job = dcgmScrapeJob({ scrapeInterval: "30s" } as never, "monitoring", "dcgm-exporter");
    const target = applyRelabelings(
      {
        __address__: "10.0.1.5:9400",
        __meta_kubernetes_namespace: "monitoring",
        __meta_kubernetes_pod_name: "dcgm-exporter-abcde",
        __meta_kubernetes_pod_container_name: "exporter",
        __meta_kubernetes_pod_container_port_name: "metrics",
        __meta_kubernetes_pod_node_name: "ip-10-0-1-5.ec2.internal",
        __meta_kubernetes_node_label_topology_kubernetes_io_zone: "us-east-1a",
        __meta_kubernetes_pod_label_app_kubernetes_io_name: "dcgm-exporter",
        __meta_kubernetes_pod_labelpresent_app_kubernetes_io_name: "true",
      },
      [...operatorRelabelings(job, "monitoring"), ...job.relabelings],
    );
    expect(target).toMatchObject({ job: "monitoring/dcgm-exporter", endpoint: "metrics", node: "ip-10-0-1-5.ec2.internal", zone: "us-east-1a" });
    expect(target).not.toHaveProperty("pod");
    expect(target).not.toHaveProperty("namespace");
    const wrongPort = applyRelabelings(
      {
        __meta_kubernetes_pod_container_port_name: "http",
        __meta_kubernetes_pod_label_app_kubernetes_io_name: "dcgm-exporter",
        __meta_kubernetes_pod_labelpresent_app_kubernetes_io_name: "true",
      },
      operatorRelabelings(job, "monitoring"),
    );
    expect(wrongPort).toBeUndefined();
    const series = applyRelabelings(
      { __name__: "DCGM_FI_DEV_GPU_UTIL", UUID: "GPU-1", modelName: "NVIDIA L4", Hostname: "h", infermesh_io_model: "gpt-7b", gpu: "0" },
      job.metricRelabelings,
    );
    expect(series).toEqual({ __name__: "DCGM_FI_DEV_GPU_UTIL", gpu_uuid: "GPU-1", gpu_model: "NVIDIA L4", model: "gpt-7b", gpu: "0" });
  });

  it("reads rendered snake_case rules and refuses fields it does not implement", () => {
    expect(fromPrometheusRelabel({ action: "replace", source_labels: ["a"], target_label: "b" })).toEqual({ action: "replace", sourceLabels: ["a"], targetLabel: "b" });
    expect(() => fromPrometheusRelabel({ action: "replace", unknown_field: 1 })).toThrow("relabel field unknown_field is not supported");
  });
});
