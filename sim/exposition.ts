/**
 * Prometheus text exposition (format 0.0.4): a renderer, and a loopback
 * server that serves rendered text (for tests that need a scrape target).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Sample {
  /** Label pairs in output order, so a fixture can match an exporter's exact order. */
  labels: ReadonlyArray<readonly [string, string]>;
  value: number;
  /** Required on histogram samples (the series is `name` + suffix); absent otherwise. */
  suffix?: "_bucket" | "_sum" | "_count";
}

export interface MetricFamily {
  name: string;
  help: string;
  type: "gauge" | "counter" | "histogram";
  samples: Sample[];
}

export const expositionContentType = "text/plain; version=0.0.4; charset=utf-8";

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Renders families in the text format. Names are validated because a typo in
 * a fixture would otherwise surface only as a failed scrape in Prometheus.
 */
export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!metricNamePattern.test(family.name)) throw new Error(`invalid metric name ${JSON.stringify(family.name)}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      if (family.type === "histogram" && sample.suffix === undefined) {
        throw new Error(`histogram ${family.name} has a sample without a _bucket/_sum/_count suffix`);
      }
      if (family.type !== "histogram" && sample.suffix !== undefined) {
        throw new Error(`${family.type} ${family.name} has a sample with suffix ${sample.suffix}`);
      }
      const pairs = sample.labels.map(([name, value]) => {
        if (!labelNamePattern.test(name)) throw new Error(`invalid label name ${JSON.stringify(name)} on ${family.name}`);
        return `${name}="${escapeLabelValue(value)}"`;
      });
      const labelText = pairs.length > 0 ? `{${pairs.join(",")}}` : "";
      lines.push(`${family.name}${sample.suffix ?? ""}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

export interface ExpositionServer {
  port: number;
  /** Base URL, e.g. `http://127.0.0.1:41234`; append a route path. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves each route's text on 127.0.0.1 at a free port. Routes are called on
 * every request, so a test can change what the next scrape sees.
 */
export async function startExpositionServer(routes: Record<string, () => string>): Promise<ExpositionServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    let body: string;
    try {
      body = route();
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${String(error)}\n`);
      return;
    }
    res.writeHead(200, { "content-type": expositionContentType, "content-length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; close() alone would wait for them.
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
