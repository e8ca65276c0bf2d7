/**
 * One dashboard's preview page: self-contained HTML (uPlot, the panel
 * renderer preview/client.js and the data inlined), drawn the same in any
 * browser without a network; and the index page linking every dashboard.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../cli/stacks";
import type { TargetResult } from "./data";

/** The dashboard's width in CSS pixels: 24 grid columns of about 67 px, as on a 1,600 px screen. */
export const pageWidth = 1600;
const rowHeight = 30;
const margin = 8;

export interface PanelItem {
  /** The panel's JSON as the dashboard holds it, targets left out. */
  panel: Record<string, unknown> & { type: string; title?: string; gridPos?: { x: number; y: number; w: number; h: number } };
  results: TargetResult[];
}

export interface PageData {
  stack: string;
  uid: string;
  title: string;
  scenario: string;
  width: number;
  window: { start: number; end: number };
  panels: PanelItem[];
}

/** The page's height in CSS pixels: the grid's bottom row, plus the header. */
export function gridHeight(panels: readonly PanelItem[]): number {
  const rows = Math.max(0, ...panels.map((p) => (p.panel.gridPos ? p.panel.gridPos.y + p.panel.gridPos.h : 0)));
  return rows * (rowHeight + margin) + headerHeight;
}
export const headerHeight = 48;

const clientScript = join(projectRoot, "preview", "client.js");

function asset(path: string): string {
  return readFileSync(path, "utf8");
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
// JSON inside <script> must not close the element.
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

const style = `
body { margin: 0; background: #111217; color: #ccccdc; font: 12px/1.3 "DejaVu Sans", sans-serif; }
header { height: ${headerHeight - 16}px; padding: 8px 12px; display: flex; gap: 16px; align-items: baseline; }
header h1 { font-size: 16px; margin: 0; font-weight: 500; }
header span { color: #8e8e8e; }
#grid { position: relative; margin: 0 0 0 ${margin / 2}px; }
section { position: absolute; box-sizing: border-box; overflow: hidden; }
section.panel { background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; display: flex; flex-direction: column; }
section.row h2 { font-size: 14px; margin: 6px 0 0; font-weight: 500; }
section.panel h2 { font-size: 12px; margin: 0; padding: 6px 8px 2px; font-weight: 500; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.links { position: absolute; right: 8px; top: 6px; color: #6e9fff; font-size: 11px; }
.body { flex: 1; position: relative; margin: 0 8px 6px; overflow: hidden; min-height: 0; }
.no-data .body { display: flex; align-items: center; justify-content: center; font-size: 18px; color: #8e8e8e; }
.legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 11px; max-height: 64px; overflow: hidden; }
.legend i { display: inline-block; width: 12px; height: 3px; margin-right: 4px; vertical-align: middle; }
.stats { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-around; }
.stat { text-align: center; padding: 4px; }
.stat-value { font-size: 32px; font-weight: 500; }
.stat-name { font-size: 11px; color: #9fa7b3; max-width: 160px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.gauge { text-align: center; }
.bars { display: flex; flex-direction: column; gap: 3px; }
.bar-row { display: grid; grid-template-columns: 30% 1fr 70px; gap: 6px; align-items: center; }
.bar { background: #22252b; height: 12px; display: block; } .bar i { display: block; height: 100%; }
.bar-value { text-align: right; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: 11px; }
td { border-bottom: 1px solid #2c3235; padding: 2px 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 240px; }
thead td { color: #6e9fff; }
td.num { text-align: right; }
.columns { display: flex; align-items: flex-end; gap: 6px; }
.column { flex: 1; display: flex; flex-direction: column; align-items: center; justify-content: flex-end; height: 100%; min-width: 0; }
.column i { display: block; width: 80%; }
.column-name, .column-value { font-size: 10px; color: #9fa7b3; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 100%; }
`;

export function dashboardPage(data: PageData): string {
  const uplotDir = join(projectRoot, "node_modules", "uplot", "dist");
  const when = `${new Date(data.window.start * 1000).toISOString().slice(11, 16)}–${new Date(data.window.end * 1000).toISOString().slice(11, 16)} UTC`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)} (preview)</title>
<style>${asset(join(uplotDir, "uPlot.min.css"))}</style>
<style>${style}</style></head>
<body style="width:${data.width}px">
<header><h1>${escapeHtml(data.title)}</h1><span>stack ${escapeHtml(data.stack)} · simulated fleet, ${escapeHtml(data.scenario)} · ${when} · variables at All</span></header>
<div id="grid"></div>
<script id="preview-data" type="application/json">${scriptJson(data)}</script>
<script>${asset(join(uplotDir, "uPlot.iife.min.js"))}</script>
<script>${asset(clientScript)}</script>
</body></html>
`;
}

export interface IndexEntry {
  uid: string;
  title: string;
  noData: string[];
}

export function indexPage(stack: string, scenario: string, entries: readonly IndexEntry[]): string {
  const items = entries
    .map(
      (e) =>
        `<li><a href="${e.uid}.html"><img src="${e.uid}.png" alt="${escapeHtml(e.title)}" width="400"></a><div><a href="${e.uid}.html">${escapeHtml(e.title)}</a>` +
        `${e.noData.length > 0 ? `<p class="bad">No data: ${e.noData.map(escapeHtml).join(", ")}</p>` : ""}</div></li>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>infermesh ${escapeHtml(stack)}: dashboard previews</title>
<style>body{background:#111217;color:#ccccdc;font:13px sans-serif;margin:16px} a{color:#6e9fff} ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:16px} li{width:400px} img{border:1px solid #2c3235} .bad{color:#f2495c}</style></head>
<body><h1>Stack ${escapeHtml(stack)}: dashboards on the simulated fleet (${escapeHtml(scenario)})</h1>
<ul>
${items}
</ul></body></html>
`;
}
