/**
 * The project's import rules, as Deno std's `_tools/check_circular_*`
 * keeps its own: no import circle between the modules under `lib/` (type
 * imports count: a circle of types is a circle of concepts), and a
 * private `_name.ts` is imported only from its own folder, a folder below
 * it, or the folder above (`lib/_text.ts` serves all of `lib/`).
 *
 * Run: `deno run --allow-read tools/check_imports.ts` (part of `deno task
 * lint`); exits 1 with each problem on a line.
 *
 * @module
 */

/** Every `.ts` file under `dir` (generated QAPI schemas aside). */
function sources(dir: string): string[] {
  return [...Deno.readDirSync(dir)].flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) return entry.name === "schemas" ? [] : sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** `from` joined with a relative specifier, normalised. */
function resolve(from: string, specifier: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

/** The relative modules each file imports or re-exports (types included). */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const pattern = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.[^"']+)["']/g;
  return new Map(files.map((file) => {
    const text = Deno.readTextFileSync(file);
    return [file, [...text.matchAll(pattern)].map((match) => resolve(file, match[1]!))];
  }));
}

/** The circles of `graph`: its strongly connected parts of more than one module (Tarjan). */
export function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (stack.includes(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const part: string[] = [];
    for (let member = stack.pop()!;; member = stack.pop()!) {
      part.push(member);
      if (member === node) break;
    }
    if (part.length > 1) found.push(part.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** Imports of a private `_name.ts` from a folder that is not its own, below it or above it. */
export function privateImports(graph: Map<string, string[]>): string[] {
  const folder = (path: string) => path.slice(0, path.lastIndexOf("/"));
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}/`);
  return [...graph].flatMap(([file, imports]) =>
    imports.filter((target) => {
      if (!target.slice(target.lastIndexOf("/") + 1).startsWith("_")) return false;
      return !within(folder(file), folder(target)) && !within(folder(target), folder(file));
    }).map((target) => `${file} imports ${target}, private to ${folder(target)}/`)
  );
}

if (import.meta.main) {
  const graph = importGraph(sources("lib"));
  const problems = [
    ...circles(graph).map((members) => `import circle: ${members.join(" → ")}`),
    ...privateImports(graph),
  ];
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`${problems.length} import problem(s) (see tools/check_imports.ts)`);
    Deno.exit(1);
  }
  console.log(`imports: ${graph.size} modules, no circle, no private import from outside`);
}
