/**
 * The EC2 GPU instance types a pool may use, and what each one carries.
 *
 * Pools are validated against this table (an instance type that is not here
 * is not a GPU instance this stack knows how to run), and the node group's AMI
 * type, labels and MIG layout are derived from it.
 */

export type CpuArchitecture = "x86_64" | "arm64";

/** GPU models found on the supported instance families. */
export type GpuModel = "T4" | "T4G" | "A10G" | "L4" | "L40S" | "A100-40GB" | "A100-80GB" | "H100-80GB" | "H200-141GB";

export interface GpuModelInfo {
  /** Memory per GPU, GiB. */
  memoryGiB: number;
  /**
   * MIG GPU-instance profiles this GPU offers, as NVIDIA names them, mapped to
   * how many of that profile one GPU holds when it is partitioned uniformly
   * (the `all-<profile>` layouts of NVIDIA's mig-parted). Empty when the GPU
   * has no MIG.
   */
  migProfiles: Readonly<Record<string, number>>;
}

// A100-80GB and H100-80GB: the same seven profiles (NVIDIA's MIG user guide, "Supported MIG Profiles").
const migProfiles80GB: Readonly<Record<string, number>> = { "1g.10gb": 7, "1g.10gb+me": 1, "1g.20gb": 4, "2g.20gb": 3, "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1 };

export const gpuModels: { readonly [M in GpuModel]: GpuModelInfo } = {
  T4: { memoryGiB: 16, migProfiles: {} },
  T4G: { memoryGiB: 16, migProfiles: {} },
  A10G: { memoryGiB: 24, migProfiles: {} },
  L4: { memoryGiB: 24, migProfiles: {} },
  L40S: { memoryGiB: 48, migProfiles: {} },
  "A100-40GB": {
    memoryGiB: 40,
    migProfiles: { "1g.5gb": 7, "1g.5gb+me": 1, "1g.10gb": 4, "2g.10gb": 3, "3g.20gb": 2, "4g.20gb": 1, "7g.40gb": 1 },
  },
  "A100-80GB": {
    memoryGiB: 80,
    migProfiles: migProfiles80GB,
  },
  "H100-80GB": {
    memoryGiB: 80,
    migProfiles: migProfiles80GB,
  },
  "H200-141GB": {
    memoryGiB: 141,
    migProfiles: { "1g.18gb": 7, "1g.18gb+me": 1, "1g.35gb": 4, "2g.35gb": 3, "3g.71gb": 2, "4g.71gb": 1, "7g.141gb": 1 },
  },
};

export interface GpuInstanceType {
  gpu: GpuModel;
  gpusPerInstance: number;
  architecture: CpuArchitecture;
}

/** Sizes of one family that share a GPU model, keyed by size suffix → GPU count. */
function family(prefix: string, gpu: GpuModel, architecture: CpuArchitecture, sizes: Record<string, number>): Record<string, GpuInstanceType> {
  return Object.fromEntries(Object.entries(sizes).map(([size, gpusPerInstance]) => [`${prefix}.${size}`, { gpu, gpusPerInstance, architecture }]));
}

const singleToEight = {
  xlarge: 1,
  "2xlarge": 1,
  "4xlarge": 1,
  "8xlarge": 1,
  "16xlarge": 1,
  "12xlarge": 4,
  "24xlarge": 4,
  "48xlarge": 8,
};

export const gpuInstanceTypes: Readonly<Record<string, GpuInstanceType>> = {
  ...family("g4dn", "T4", "x86_64", {
    xlarge: 1,
    "2xlarge": 1,
    "4xlarge": 1,
    "8xlarge": 1,
    "16xlarge": 1,
    "12xlarge": 4,
    metal: 8,
  }),
  ...family("g5g", "T4G", "arm64", { xlarge: 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 2, metal: 2 }),
  ...family("g5", "A10G", "x86_64", singleToEight),
  ...family("g6", "L4", "x86_64", singleToEight),
  ...family("g6e", "L40S", "x86_64", singleToEight),
  ...family("p4d", "A100-40GB", "x86_64", { "24xlarge": 8 }),
  ...family("p4de", "A100-80GB", "x86_64", { "24xlarge": 8 }),
  ...family("p5", "H100-80GB", "x86_64", { "4xlarge": 1, "48xlarge": 8 }),
  ...family("p5e", "H200-141GB", "x86_64", { "48xlarge": 8 }),
  ...family("p5en", "H200-141GB", "x86_64", { "48xlarge": 8 }),
};

export function lookupGpuInstance(instanceType: string): GpuInstanceType | undefined {
  return Object.hasOwn(gpuInstanceTypes, instanceType) ? gpuInstanceTypes[instanceType] : undefined;
}

export function isMigCapable(gpu: GpuModel): boolean {
  return Object.keys(gpuModels[gpu].migProfiles).length > 0;
}

/** Which NVIDIA node image a pool boots. */
export type AmiFamily = "al2023" | "bottlerocket";

export type NvidiaAmiType = "AL2023_x86_64_NVIDIA" | "AL2023_ARM_64_NVIDIA" | "BOTTLEROCKET_x86_64_NVIDIA" | "BOTTLEROCKET_ARM_64_NVIDIA";

const amiTypes: { readonly [F in AmiFamily]: { readonly [A in CpuArchitecture]: NvidiaAmiType } } = {
  al2023: { x86_64: "AL2023_x86_64_NVIDIA", arm64: "AL2023_ARM_64_NVIDIA" },
  bottlerocket: { x86_64: "BOTTLEROCKET_x86_64_NVIDIA", arm64: "BOTTLEROCKET_ARM_64_NVIDIA" },
};

export function nvidiaAmiType(family: AmiFamily, architecture: CpuArchitecture): NvidiaAmiType {
  return amiTypes[family][architecture];
}

/**
 * The block device that holds container images and pod storage. AL2023 keeps
 * them on the root volume; Bottlerocket boots from a small OS volume
 * (`/dev/xvda`) and puts them on the data volume `/dev/xvdb`.
 */
export function dataVolumeDevice(family: AmiFamily): "/dev/xvda" | "/dev/xvdb" {
  return family === "bottlerocket" ? "/dev/xvdb" : "/dev/xvda";
}

/**
 * The `nvidia.com/mig.config` value for a uniform layout of one profile, as
 * NVIDIA's mig-parted names it (`1g.10gb+me` becomes `all-1g.10gb.me`).
 */
export function migConfigName(profile: string): string {
  return `all-${profile.replace("+", ".")}`;
}
