/**
 * Serves the synthetic fleet (sim/) on 127.0.0.1 until Ctrl-C, with
 * a control endpoint to switch scenarios, and writes a prometheus.yml (the
 * stack's scrape jobs pointed at the fleet, its rule groups) to try it with.
 *
 *   npm run simulate -- [--stack dev] [--nodes N] [--gpus G] [--routers R] [--scenario <name>] [--port-base P]
 *
 * With --port-base P the control endpoint listens on P and the targets on
 * P+1, P+2, …; without it every port is picked free. Scenario control:
 *   curl -X POST http://127.0.0.1:<control>/scenario/<name>
 *   curl http://127.0.0.1:<control>/            (current scenario, targets, expected alerts)
 * or type a scenario name and Enter.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { positiveInteger, runCommand, UsageError, type CommandSpec, type ParsedCommand } from "../cli/command";
import { requireStack } from "../cli/stacks";
import type { ScenarioName } from "../sim/scenarios";

export const simulateCommand = {
  name: "simulate",
  synopsis: "[--stack dev] [--nodes N] [--gpus G] [--routers R] [--scenario <name>] [--port-base P]",
  summary: "Serves the synthetic fleet on 127.0.0.1 until Ctrl-C, with a control endpoint to switch scenarios, and writes a prometheus.yml to try it with.",
  details: [
    "--stack <stack>    whose scrape jobs, labels and rules to use (default dev)",
    "--nodes N, --gpus G, --routers R  fleet shape (positive integers)",
    "--scenario <name>  scenario to start with (default healthy)",
    "--port-base P      control endpoint on P, targets on P+1, P+2, ... (default: free ports)",
  ],
  options: {
    stack: { type: "string", default: "dev" },
    nodes: { type: "string" },
    gpus: { type: "string" },
    routers: { type: "string" },
    scenario: { type: "string", default: "healthy" },
    "port-base": { type: "string" },
  },
  positionals: [],
} as const satisfies CommandSpec;

async function main({ values }: ParsedCommand<typeof simulateCommand.options>): Promise<number> {
  const stack = requireStack(values.stack ?? "dev");
  const portBase = positiveInteger("port-base", values["port-base"]);
  const nodes = positiveInteger("nodes", values.nodes);
  const gpusPerNode = positiveInteger("gpus", values.gpus);
  const routers = positiveInteger("routers", values.routers);
  // The fleet module loads the program's components; it is imported once the command line is known good.
  const { default: YAML } = await import("yaml");
  const { Fleet } = await import("../sim/fleet");
  const { serveFleet } = await import("../sim/http");
  const { isScenarioName, scenarioNames, scenarios } = await import("../sim/scenarios");
  const { fleetSettings } = await import("../verify/stackFleet");
  const { loadStackConfig, prometheusSetup, table } = await import("../verify/run");
  const scenario = values.scenario ?? "healthy";
  if (!isScenarioName(scenario)) throw new UsageError(`unknown scenario ${JSON.stringify(scenario)}; scenarios: ${scenarioNames.join(", ")}`);

  const config = await loadStackConfig(stack);
  const fleet = new Fleet({
    settings: fleetSettings(config),
    shape: { ...(nodes ? { nodes } : {}), ...(gpusPerNode ? { gpusPerNode } : {}), ...(routers ? { routers } : {}) },
    scenario,
  });
  const served = await serveFleet(fleet, portBase === undefined ? {} : { portBase: portBase + 1 });

  const state = () => ({
    scenario: fleet.scenario,
    description: scenarios[fleet.scenario].description,
    hits: fleet.scenarioTarget(fleet.scenario),
    expectedAlerts: fleet.unsupported(fleet.scenario) ? [] : fleet.expectedAlerts(fleet.scenario),
    scenarios: scenarioNames.filter((n) => !fleet.unsupported(n)),
    targets: served.endpoints.map((e) => ({ kind: e.target.kind, pod: `${e.target.pod.namespace}/${e.target.pod.name}`, node: e.target.node.name, url: e.url })),
  });
  const switchTo = (name: ScenarioName): string => {
    const unsupported = fleet.unsupported(name);
    if (unsupported) return `cannot play ${name}: ${unsupported}`;
    fleet.setScenario(name);
    const alerts = fleet.expectedAlerts(name).map((a) => `${a.alertname} ${JSON.stringify(a.labels)}`);
    return `scenario ${name}: ${scenarios[name].description} Hits ${fleet.scenarioTarget(name)}.${alerts.length ? ` Expect: ${alerts.join("; ")}` : " Expect no alert."}`;
  };

  const control = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" }).end(`${JSON.stringify(body, null, 2)}\n`);
    };
    const match = /^\/scenario\/([\w-]+)$/.exec(path);
    if (req.method === "POST" && match) {
      const name = match[1] as string;
      if (!isScenarioName(name)) return send(404, { error: `unknown scenario ${name}`, scenarios: scenarioNames });
      const message = switchTo(name);
      console.log(message);
      return send(fleet.scenario === name ? 200 : 409, { message, ...state() });
    }
    if (req.method === "GET" && (path === "/" || path === "/scenario")) return send(200, state());
    send(404, { error: "GET / or POST /scenario/<name>", scenarios: scenarioNames });
  });
  await new Promise<void>((resolve, reject) => {
    control.once("error", reject);
    control.listen(portBase ?? 0, "127.0.0.1", () => resolve());
  });
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;

  // A Prometheus configuration for these targets, with the stack's rules; the user may run it (loopback only).
  const dir = mkdtempSync(join(tmpdir(), "infermesh-simulate-"));
  const setup = prometheusSetup(config, served);
  for (const [name, text] of Object.entries(setup.files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  writeFileSync(join(dir, "prometheus.yml"), YAML.stringify(setup.config, { aliasDuplicateObjects: false, lineWidth: 0 }));

  console.log(
    `infermesh fleet for stack ${config.stack}: ${fleet.gpuNodes.length} GPU nodes (${fleet.pools.map((p) => `${p.name}: ${fleet.gpuNodes.filter((n) => n.pool === p).length}`).join(", ")}), ${fleet.shape.routers} routers, scenario ${fleet.scenario}`,
  );
  console.log(
    table(
      ["kind", "pod", "node", "url"],
      state().targets.map((t) => [t.kind, t.pod, t.node, t.url]),
      80,
    ),
  );
  console.log("");
  console.log(`control:     ${controlUrl}/   (GET: state; POST ${controlUrl}/scenario/<name> switches)`);
  console.log(`scenarios:   ${scenarioNames.join(", ")}  (or type one and Enter)`);
  console.log(`prometheus:  prometheus --config.file=${join(dir, "prometheus.yml")} --storage.tsdb.path=${join(dir, "data")} --web.listen-address=127.0.0.1:9090`);
  console.log("             (the stack's scrape jobs and rule groups, every 1s; kube-state-metrics as a static job)");
  console.log("Ctrl-C stops.");

  const input = createInterface({ input: process.stdin });
  input.on("line", (line) => {
    const name = line.trim();
    if (name === "") return;
    console.log(isScenarioName(name) ? switchTo(name) : `unknown scenario ${name}; scenarios: ${scenarioNames.join(", ")}`);
  });

  // Runs until Ctrl-C (or SIGTERM), then cleans up and exits 0.
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      input.close();
      await new Promise<void>((closed) => {
        control.close(() => closed());
        control.closeAllConnections();
      });
      await served.stop();
      rmSync(dir, { recursive: true, force: true });
      resolve(0);
    };
    process.once("SIGINT", () => void stop());
    process.once("SIGTERM", () => void stop());
  });
}

void runCommand(simulateCommand, main);
