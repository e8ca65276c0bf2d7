/**
 * The infermesh policy pack, as the Pulumi CLI loads it:
 *
 *   pulumi preview --policy-pack policy        (from the repository root)
 *
 * The CLI starts this folder with `@pulumi/pulumi/cmd/run-policy-pack`, found
 * through normal Node resolution from here, so the root `npm ci` is the only
 * install. Constructing the pack starts its gRPC server, which is why the
 * rules live in ./policies.ts: tests and the offline plan check
 * (./planAdapter.ts) import them without serving anything.
 */
import { PolicyPack } from "@pulumi/policy";
import { infermeshPolicies, packEnforcementLevel, packName } from "./policies";

new PolicyPack(packName, {
  description: "Guardrails for the infermesh GPU fleet stacks: GPU isolation, node hardening, private monitoring, least-privilege IAM, environment lifecycle, secrets.",
  enforcementLevel: packEnforcementLevel,
  policies: infermeshPolicies(),
});
