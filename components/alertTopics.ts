/**
 * The SNS topics alert notifications go to, and who may publish to them.
 *
 * AMP's alert manager publishes as the `aps.amazonaws.com` service principal,
 * so a topic's access policy must allow it (AWS: "Giving Amazon Managed
 * Service for Prometheus permission to send alert messages to your Amazon SNS
 * topic"); without that, every notification fails and only AMP's logs say so.
 * Amazon Managed Grafana publishes as its workspace role, which the stack
 * owns (see GrafanaEndpoint): the role gets `sns:Publish` on exactly the
 * stack's topics, owned and external, so no topic policy is needed for it and
 * any topic name works in the same account (a topic in another account also
 * needs its owner's grant).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ContactPoint, StackConfig } from "../config";
import { snsPublishPolicy } from "./iam";

export type SnsPublisher = "amp" | "grafana";

type SnsContactPoint = Extract<ContactPoint, { type: "sns" }>;

/**
 * Who publishes to the stack's SNS contact points. Config validation allows
 * SNS only with AMP's alert manager or Amazon Managed Grafana as evaluator.
 */
export function snsPublisher(config: Pick<StackConfig, "alerting" | "telemetry">): SnsPublisher {
  return config.alerting.evaluator === "grafana" ? "grafana" : "amp";
}

/**
 * Name of a topic the stack creates. The `grafana` prefix dates from when the
 * workspace relied on service-managed permissions (publish only to
 * `grafana*`); the stack's workspace role no longer needs it, but renaming a
 * topic would replace it and drop its subscriptions, so the name stays.
 */
export function ownedTopicName(stack: string, contactPoint: string): string {
  return `grafana-infermesh-${stack}-${contactPoint}`;
}

export interface ArnParts {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

export function parseArn(arn: string): ArnParts {
  const [prefix, partition, service, region, account, ...resource] = arn.split(":");
  if (prefix !== "arn" || partition === undefined || service === undefined || region === undefined || account === undefined || resource.length === 0) {
    throw new Error(`not an ARN: ${arn}`);
  }
  return { partition, service, region, account, resource: resource.join(":") };
}

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow";
  Principal: { Service: string };
  Action: string[];
  Resource: string;
  Condition: Record<string, Record<string, string>>;
}

/** A statement id unique per stack, so several stacks can grant one shared topic. */
function ampSid(stack: string): string {
  const words = `infermesh-${stack}`.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return `${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("")}AmpAlertManagerPublish`;
}

/**
 * The topic-policy statement AMP's alert manager needs: publish and read the
 * topic's attributes, as the AMP service, only on behalf of this workspace in
 * this account (AWS's confused-deputy conditions).
 */
export function ampPublishStatement(args: { stack: string; topicArn: string; workspaceArn: string }): PolicyStatement {
  return {
    Sid: ampSid(args.stack),
    Effect: "Allow",
    Principal: { Service: "aps.amazonaws.com" },
    Action: ["sns:Publish", "sns:GetTopicAttributes"],
    Resource: args.topicArn,
    Condition: {
      ArnEquals: { "aws:SourceArn": args.workspaceArn },
      StringEquals: { "aws:SourceAccount": parseArn(args.workspaceArn).account },
    },
  };
}

/** What a contact point's topic is, and what its owner still has to grant (stack output `snsTopics`). */
export interface SnsTopicSummary {
  arn: string;
  owner: "stack" | "external";
  publisher: SnsPublisher;
  /** External topics published by AMP: the statement the topic's owner must add to its access policy. */
  grantRequired?: PolicyStatement;
}

/**
 * Why an external topic will not receive AMP's notifications until someone
 * acts, with the exact grant; `undefined` when nothing is left to grant.
 */
export function externalTopicWarning(contactPoint: string, summary: SnsTopicSummary): string | undefined {
  if (summary.owner !== "external" || !summary.grantRequired) return undefined;
  const ampAccount = summary.grantRequired.Condition.StringEquals?.["aws:SourceAccount"];
  return [
    `alerting contact point "${contactPoint}": the stack does not own SNS topic ${summary.arn} and cannot set its access policy (a topic policy replaces the whole policy).`,
    `Amazon Managed Prometheus' notifications to it fail until the topic's owner adds this statement (also in stack output snsTopics.${contactPoint}.grantRequired):`,
    JSON.stringify(summary.grantRequired),
    `AMP publishes only to topics in its own account (${ampAccount}); if the topic is encrypted with a KMS key, that key's policy must also allow aps.amazonaws.com kms:GenerateDataKey* and kms:Decrypt. Or set create: true to let the stack own the topic.`,
  ].join("\n");
}

export interface AlertTopicsArgs {
  config: Pick<StackConfig, "stack" | "region" | "alerting" | "telemetry" | "policy">;
  /** The stack's AMP workspace, when AMP's alert manager publishes. */
  ampWorkspace?: aws.amp.Workspace;
  /** Amazon Managed Grafana's workspace role, when Grafana publishes. */
  grafanaWorkspaceRole?: aws.iam.Role;
}

/**
 * The topic of every SNS contact point: created with the access policy its
 * publisher needs when the contact point says `create: true`; otherwise named
 * only, with the grant its owner must add reported (warning and stack output).
 * When Amazon Managed Grafana publishes, its workspace role may publish to
 * exactly these topics.
 */
export class AlertTopics extends pulumi.ComponentResource {
  static readonly type = "infermesh:monitoring:AlertTopics";
  /** Topic ARN of every SNS contact point, by contact point name. */
  readonly arns: Record<string, pulumi.Output<string>>;
  readonly summary: pulumi.Output<Record<string, SnsTopicSummary>>;

  constructor(name: string, args: AlertTopicsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(AlertTopics.type, name, {}, opts);
    const { config } = args;
    const publisher = snsPublisher(config);
    const workspace = args.ampWorkspace;
    if (publisher === "amp" && !workspace) throw new pulumi.ResourceError("AMP's alert manager publishes to SNS, but the stack has no AMP workspace", this);
    if (publisher === "grafana" && !args.grafanaWorkspaceRole) {
      throw new pulumi.ResourceError("Amazon Managed Grafana publishes to SNS, but the stack has no Grafana workspace role", this);
    }
    const contactPoints = Object.values(config.alerting.contactPoints).filter((cp): cp is SnsContactPoint => cp.type === "sns");

    const entries = contactPoints.map((cp) => {
      const topic = cp.topic;
      if (topic.owner === "external") {
        const summary =
          publisher === "amp"
            ? workspace!.arn.apply((workspaceArn) => {
                const external: SnsTopicSummary = {
                  arn: topic.arn,
                  owner: "external",
                  publisher,
                  grantRequired: ampPublishStatement({ stack: config.stack, topicArn: topic.arn, workspaceArn }),
                };
                const warning = externalTopicWarning(cp.name, external);
                if (warning) pulumi.log.warn(warning, this);
                return external;
              })
            : pulumi.output<SnsTopicSummary>({ arn: topic.arn, owner: "external", publisher });
        return { name: cp.name, arn: pulumi.output(topic.arn), summary };
      }
      const created = new aws.sns.Topic(`${name}-${cp.name}`, { name: ownedTopicName(config.stack, cp.name) }, { parent: this, protect: config.policy.protectStateful });
      if (publisher === "amp") {
        new aws.sns.TopicPolicy(
          `${name}-${cp.name}`,
          {
            arn: created.arn,
            policy: pulumi
              .all([created.arn, workspace!.arn])
              .apply(([topicArn, workspaceArn]) => JSON.stringify({ Version: "2012-10-17", Statement: [ampPublishStatement({ stack: config.stack, topicArn, workspaceArn })] })),
          },
          { parent: this },
        );
      }
      return { name: cp.name, arn: created.arn, summary: created.arn.apply((arn): SnsTopicSummary => ({ arn, owner: "stack", publisher })) };
    });

    if (publisher === "grafana" && entries.length > 0) {
      // An identity policy on the stack's own role, not a topic policy: it works for
      // external topics too, which the stack cannot set a policy on.
      new aws.iam.RolePolicy(
        `${name}-grafana-publish`,
        { role: args.grafanaWorkspaceRole!.id, policy: pulumi.all(entries.map((e) => e.arn)).apply(snsPublishPolicy) },
        { parent: this },
      );
    }
    this.arns = Object.fromEntries(entries.map((e) => [e.name, e.arn]));
    this.summary = pulumi.all(Object.fromEntries(entries.map((e) => [e.name, e.summary]))) as pulumi.Output<Record<string, SnsTopicSummary>>;
    this.registerOutputs({ summary: this.summary });
  }
}
