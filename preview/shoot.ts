/**
 * Pictures of pages in a real headless Chromium (Debian's `chromium`
 * package, driven by playwright-core; nothing is downloaded): each page at
 * the dashboard's width, whole, once its renderer says it is done.
 */
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { findOnPath } from "../cli/prerequisites";

/** The browser: `CHROMIUM_PATH`, else Chromium on PATH (Debian's chromium package: /usr/bin/chromium). */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? findOnPath("chromium") ?? findOnPath("chromium-browser");
  if (!path || !existsSync(path))
    throw new Error(`no Chromium${path ? ` at ${path}` : " on PATH"}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`);
  return path;
}

// Headless, and quiet on a machine without a network: no background services, no first-run, no GPU.
const flags = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export interface PageReport {
  noData: string[];
  errors: { title: string; errors: string[] }[];
  drawn: number;
  /** Series drawn per panel title. */
  series: Record<string, number>;
}

export interface Shooter {
  /** Loads `htmlFile`, waits for the renderer, writes `pngFile`; returns what the renderer reported. */
  shoot(htmlFile: string, pngFile: string, size: { width: number; height: number }): Promise<PageReport>;
  close(): Promise<void>;
}

export async function startShooter(): Promise<Shooter> {
  const browser: Browser = await chromium.launch({ executablePath: chromiumPath(), args: flags });
  return {
    async shoot(htmlFile, pngFile, size) {
      const page = await browser.newPage({ viewport: size, deviceScaleFactor: 1 });
      try {
        const problems: string[] = [];
        page.on("pageerror", (err) => problems.push(err.message));
        await page.goto(pathToFileURL(htmlFile).href);
        // Evaluated in the page: `globalThis` is its window.
        await page
          .waitForFunction(() => (globalThis as unknown as { previewDone?: boolean }).previewDone === true, undefined, { timeout: 30_000 })
          .catch(() => {
            throw new Error(`${htmlFile} did not finish drawing${problems.length > 0 ? `: ${problems.join("; ")}` : ""}`);
          });
        await page.screenshot({ path: pngFile, fullPage: true });
        return await page.evaluate(() => (globalThis as unknown as { previewReport: PageReport }).previewReport);
      } finally {
        await page.close();
      }
    },
    close: () => browser.close(),
  };
}
