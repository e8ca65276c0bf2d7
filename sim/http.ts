/**
 * The HTTP sink: every target of a fleet on its own 127.0.0.1 port, at its
 * metrics path, answering each scrape with what its exporter emits at that
 * moment; and the discovery a real Prometheus needs to find them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fleetPods, kubeStateMetricsScrapeConfig, type DiscoveredPod } from "./discovery";
import { expositionContentType } from "./exposition";
import type { Fleet } from "./fleet";
import type { FleetTarget } from "./model";

export interface FleetEndpoint {
  target: FleetTarget;
  port: number;
  /** Scrape URL, e.g. `http://127.0.0.1:41234/metrics`. */
  url: string;
}

export interface ServedFleet {
  fleet: Fleet;
  endpoints: FleetEndpoint[];
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** First port; targets take consecutive ports from it. Default: a free port each. */
  portBase?: number;
}

const loopback = "127.0.0.1";

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, loopback, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Scrapers keep connections alive; close() alone would wait for them.
    server.closeAllConnections();
  });
}

/** Serves every target of `fleet` on its own 127.0.0.1 port, each at its metrics path. */
export async function serveFleet(fleet: Fleet, options: ServeOptions = {}): Promise<ServedFleet> {
  const { portBase } = options;
  if (portBase !== undefined && !(Number.isInteger(portBase) && portBase >= 1024 && portBase + fleet.targets.length <= 65535)) {
    throw new Error(`port base must be an integer from 1024 to ${65535 - fleet.targets.length}, got ${portBase}`);
  }
  const servers: Server[] = [];
  const endpoints: FleetEndpoint[] = [];
  try {
    for (const [i, target] of fleet.targets.entries()) {
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const path = new URL(req.url ?? "/", `http://${loopback}`).pathname;
        if (path !== target.path || (req.method !== "GET" && req.method !== "HEAD")) {
          res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
          return;
        }
        let result: { status: 200 | 503; body: string };
        try {
          result = fleet.scrape(target.id);
        } catch (error) {
          res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${String(error)}\n`);
          return;
        }
        const type = result.status === 200 ? expositionContentType : "text/plain; charset=utf-8";
        res.writeHead(result.status, { "content-type": type, "content-length": Buffer.byteLength(result.body) });
        res.end(req.method === "HEAD" ? undefined : result.body);
      });
      servers.push(server);
      const port = await listen(server, portBase === undefined ? 0 : portBase + i);
      endpoints.push({ target, port, url: `http://${loopback}:${port}${target.path}` });
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    fleet,
    endpoints,
    stop() {
      stopped ??= Promise.all(servers.map(closeServer)).then(() => undefined);
      return stopped;
    },
  };
}

/** The pods Kubernetes discovery would return for the served fleet, at their loopback addresses. */
export function discoveredPods(served: ServedFleet): DiscoveredPod[] {
  return fleetPods(served.fleet, addressOf(served));
}

/** The static kube-state-metrics job for the served fleet. */
export function servedKubeStateMetricsScrapeConfig(served: ServedFleet, interval: string): Record<string, unknown> {
  return kubeStateMetricsScrapeConfig(served.fleet, addressOf(served), interval);
}

function addressOf(served: ServedFleet): (target: FleetTarget) => string {
  const byId = new Map(served.endpoints.map((e) => [e.target.id, `${loopback}:${e.port}`]));
  return (target) => {
    const address = byId.get(target.id);
    if (address === undefined) throw new Error(`target ${target.id} is not served`);
    return address;
  };
}
