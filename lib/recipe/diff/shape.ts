/**
 * The shape of a JSON value — which members, of which types, not their
 * values — and where two shapes differ: what `corral diff` compares of
 * replies and event data, where values (times, ids, counters) differ from
 * run to run but a member present on one QEMU build and absent on another
 * is a difference that matters.
 *
 * @module
 */

/** A JSON value's shape: a type name, an object of shapes, or a list of element shapes. */
export type Shape = string | { [member: string]: Shape } | Shape[];

/**
 * The shape of `value`: objects by member, arrays by the distinct shapes
 * of their elements, anything else by its type.
 *
 * @example
 * ```ts
 * import { shapeOf } from "./shape.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(shapeOf({ running: true, status: "running", ids: [1, 2] }), {
 *   ids: ["number"], running: "boolean", status: "string",
 * });
 * ```
 */
export function shapeOf(value: unknown): Shape {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) {
    const shapes = new Map(value.map((v) => shapeOf(v)).map((s) => [JSON.stringify(s), s]));
    return [...shapes.values()];
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0
    );
    return Object.fromEntries(entries.map(([k, v]) => [k, shapeOf(v)]));
  }
  return typeof value;
}

/**
 * Where shapes `a` and `b` differ, one line each: a member only in one
 * (`return.singlestep: only in A (boolean)`), or a type that changed.
 *
 * @example
 * ```ts
 * import { shapeDiff, shapeOf } from "./shape.ts";
 * import assert from "node:assert/strict";
 *
 * const a = shapeOf({ status: "running", singlestep: false });
 * const b = shapeOf({ status: "running" });
 * assert.deepEqual(shapeDiff(a, b, "return"), ["return.singlestep: only in A (boolean)"]);
 * ```
 */
export function shapeDiff(a: Shape, b: Shape, path: string, names = ["A", "B"]): string[] {
  if (isObject(a) && isObject(b)) {
    const members = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return members.flatMap((m) => {
      const at = `${path}.${m}`;
      if (!(m in b)) return [`${at}: only in ${names[0]} (${show(a[m]!)})`];
      if (!(m in a)) return [`${at}: only in ${names[1]} (${show(b[m]!)})`];
      return shapeDiff(a[m]!, b[m]!, at, names);
    });
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    // Lists compare by the union of their elements' shapes: an empty list says nothing.
    if (a.length === 0 || b.length === 0) return [];
    return shapeDiff(merged(a), merged(b), `${path}[]`, names);
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  return [`${path}: ${show(a)} in ${names[0]}, ${show(b)} in ${names[1]}`];
}

function isObject(shape: Shape): shape is { [member: string]: Shape } {
  return typeof shape === "object" && !Array.isArray(shape);
}

/** The elements' shapes as one: objects merged member by member (a union's members). */
function merged(shapes: Shape[]): Shape {
  if (!shapes.every(isObject)) {
    return shapes.length === 1 ? shapes[0]! : shapes.map(show).join(" | ");
  }
  const out: Record<string, Shape> = {};
  for (const shape of shapes as Record<string, Shape>[]) Object.assign(out, shape);
  return out;
}

function show(shape: Shape): string {
  if (typeof shape === "string") return shape;
  return Array.isArray(shape) ? "list" : "object";
}
