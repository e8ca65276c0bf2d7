import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./options";
import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { stringify } from "yaml";
import type { PrometheusRuleGroup } from "../alerts/prometheusRules";

/** The PrometheusRule object carrying rule groups, labelled for the stack's Prometheus. */
export function prometheusRuleManifest(name: string, namespace: string, labels: Record<string, string>, groups: readonly PrometheusRuleGroup[]): IPrometheusRule {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name, namespace, labels: { ...labels } },
    spec: { groups: groups.map((g) => ({ name: g.name, interval: g.interval, rules: g.rules.map((r) => ({ ...r })) })) },
  };
}

/** An AMP rule groups namespace holds a plain Prometheus rule file. */
export function ampRuleFile(groups: readonly PrometheusRuleGroup[]): string {
  return stringify({ groups }, { lineWidth: 0, aliasDuplicateObjects: false });
}

export interface PrometheusRulesArgs {
  /** Rule groups in Prometheus rule-file form. */
  groups: PrometheusRuleGroup[];
  /** `in-cluster`: a PrometheusRule object; `amp`: a rule groups namespace in the workspace. */
  target: { kind: "in-cluster"; namespace: string; selectorLabels: Record<string, string>; dependsOn: pulumi.Resource[] } | { kind: "amp"; workspaceId: pulumi.Input<string> };
  /** Object / namespace name. */
  ruleName: string;
}

/** Rules evaluated by Prometheus: in the cluster, or by Amazon Managed Prometheus. */
export class PrometheusRules extends pulumi.ComponentResource {
  static readonly type = "infermesh:monitoring:PrometheusRules";

  constructor(name: string, args: PrometheusRulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PrometheusRules.type, name, {}, opts);
    const { target } = args;
    if (target.kind === "in-cluster") {
      new k8s.apiextensions.CustomResource(name, prometheusRuleManifest(args.ruleName, target.namespace, target.selectorLabels, args.groups), {
        ...childOptions(this, opts),
        // The CRD comes with the operator's release; rules go before it on destroy.
        dependsOn: target.dependsOn,
      });
    } else {
      new aws.amp.RuleGroupNamespace(name, { workspaceId: target.workspaceId, name: args.ruleName, data: ampRuleFile(args.groups) }, childOptions(this, opts));
    }
    this.registerOutputs({});
  }
}
