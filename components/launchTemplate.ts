import type * as aws from "@pulumi/aws";
import type { AmiFamily } from "../domain/gpuInstances";
import { dataVolumeDevice } from "../domain/gpuInstances";

/**
 * Launch template settings every node group of this stack shares: IMDSv2
 * only, and an encrypted gp3 volume for images and pod storage.
 *
 * The hop limit is 2 rather than 1 because pods that still rely on the
 * instance profile (no IRSA yet) sit one network hop behind the node; with 1
 * their IMDSv2 token responses are dropped.
 */
export function nodeLaunchTemplateArgs(args: { diskSizeGiB: number; amiFamily: AmiFamily | "standard"; tags: Record<string, string> }): aws.ec2.LaunchTemplateArgs {
  const device = args.amiFamily === "standard" ? "/dev/xvda" : dataVolumeDevice(args.amiFamily);
  return {
    metadataOptions: {
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 2,
    },
    blockDeviceMappings: [
      {
        deviceName: device,
        ebs: {
          volumeSize: args.diskSizeGiB,
          volumeType: "gp3",
          encrypted: "true",
          deleteOnTermination: "true",
        },
      },
    ],
    // Instances and volumes launched by the node group's Auto Scaling group do
    // not inherit provider default tags; tag them here so cost reports and the
    // leak check see them.
    tagSpecifications: (["instance", "volume", "network-interface"] as const).map((resourceType) => ({
      resourceType,
      tags: args.tags,
    })),
    updateDefaultVersion: true,
  };
}
