/**
 * The repository's import graph and the rules it must keep: layers that
 * import one way, no cycles, and tools that never load a Pulumi component
 * module to reach a pure function. test/layers.test.ts applies the rules to
 * the tree; the functions here are pure over a graph so they can be tested on
 * small ones.
 */
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import ts from "typescript";

export interface ImportEdge {
  /** Repository-relative path of the imported file, or the package name for a bare specifier. */
  to: string;
  /** `import type` / `export type`, or every named binding marked `type`: erased when compiled. */
  typeOnly: boolean;
  /** `import("…")`: loaded on demand, not when the importing module loads. */
  dynamic: boolean;
}

export type ImportGraph = ReadonlyMap<string, readonly ImportEdge[]>;

/** Bare package specifiers are kept as they are; relative ones resolve against `files` (with `.ts` or `/index.ts`). */
function resolveSpecifier(from: string, spec: string, files: ReadonlySet<string>): string {
  if (!spec.startsWith(".")) return spec;
  const base = normalize(join(dirname(from), spec));
  return [`${base}.ts`, `${base}/index.ts`, base].find((c) => files.has(c)) ?? base;
}

function namedBindingsTypeOnly(clause: ts.ImportClause): boolean {
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** The imports of one TypeScript source text. */
export function importsOf(file: string, text: string, files: ReadonlySet<string>): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: ImportEdge[] = [];
  const add = (spec: string, typeOnly: boolean, dynamic: boolean) => edges.push({ to: resolveSpecifier(file, spec, files), typeOnly, dynamic });
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, !!node.importClause && namedBindingsTypeOnly(node.importClause), false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly, false);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0] as ts.Expression)) {
      const spec = (node.arguments[0] as ts.StringLiteral).text;
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) add(spec, false, true);
      else if (ts.isIdentifier(node.expression) && node.expression.text === "require") add(spec, false, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** The graph of `files` (repository-relative paths under `root`). */
export function readImportGraph(root: string, files: readonly string[]): ImportGraph {
  const known = new Set(files);
  return new Map(files.map((f) => [f, importsOf(f, readFileSync(join(root, f), "utf8"), known)]));
}

/** Files that import each other, directly or through others: every strongly connected component of more than one file, or a file importing itself. */
export function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const { to: w } of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).some((e) => e.to === v)) cycles.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return cycles;
}

/**
 * Layers, lowest first; each entry lists the top-level folders (or root files)
 * in it. A file may import its own layer and the ones below.
 */
export type Layers = ReadonlyArray<readonly string[]>;

/** The folder (or root file) a path belongs to. */
export const unitOf = (file: string) => (file.includes("/") ? (file.split("/")[0] as string) : file);

export function layerOf(layers: Layers, file: string): number | undefined {
  const unit = unitOf(file);
  const i = layers.findIndex((units) => units.includes(unit));
  return i < 0 ? undefined : i;
}

/** `<file> → <import>` for every import of a higher layer than the importer's, and every file in no layer. */
export function layerViolations(graph: ImportGraph, layers: Layers): string[] {
  const out: string[] = [];
  for (const [file, edges] of graph) {
    const own = layerOf(layers, file);
    if (own === undefined) {
      out.push(`${file}: ${unitOf(file)}/ is in no layer; add it to the layers`);
      continue;
    }
    for (const edge of edges) {
      if (!graph.has(edge.to)) continue;
      const theirs = layerOf(layers, edge.to);
      if (theirs !== undefined && theirs > own) out.push(`${file} → ${edge.to} (${unitOf(file)} may not import ${unitOf(edge.to)})`);
    }
  }
  return out.sort();
}

/**
 * Every file `from` loads when it is loaded: static imports that survive
 * compilation, followed transitively (type-only and dynamic imports are not
 * loaded with the module).
 */
export function loadedWith(graph: ImportGraph, from: string): Set<string> {
  const seen = new Set<string>();
  const visit = (f: string) => {
    for (const e of graph.get(f) ?? []) {
      if (e.typeOnly || e.dynamic || seen.has(e.to)) continue;
      seen.add(e.to);
      visit(e.to);
    }
  };
  visit(from);
  return seen;
}
