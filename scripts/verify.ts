/**
 * Proof against a real Prometheus for one stack: serves the synthetic fleet,
 * scrapes it through the stack's rendered scrape configuration with its rule
 * groups loaded, checks every dashboard query, the seed's queries and alert
 * expressions, and every scenario's alerts; prints the report.
 *
 *   npm run verify -- <stack> [--nodes N] [--gpus G] [--routers R] [--root <dir>] [--json]
 *
 * Exits 0 when everything passed, 1 on any failure, 2 on bad usage.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../components/config";
import { formatReport, loadStackConfig, runVerification } from "../verify/run";

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${flag} must be a positive integer, got ${value}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { nodes: { type: "string" }, gpus: { type: "string" }, routers: { type: "string" }, root: { type: "string" }, json: { type: "boolean" } },
  });
  const stack = positionals[0];
  if (!stack || positionals.length > 1) {
    console.error("usage: npm run verify -- <stack> [--nodes N] [--gpus G] [--routers R] [--root <dir>] [--json]");
    return 2;
  }
  const nodes = count("nodes", values.nodes);
  const gpusPerNode = count("gpus", values.gpus);
  const routers = count("routers", values.routers);
  const config = await loadStackConfig(stack, values.root);
  const report = await runVerification(config, {
    shape: { ...(nodes ? { nodes } : {}), ...(gpusPerNode ? { gpusPerNode } : {}), ...(routers ? { routers } : {}) },
    log: (line) => console.error(`[verify] ${line}`),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
