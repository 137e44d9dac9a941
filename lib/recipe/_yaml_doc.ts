/**
 * What every YAML document corral reads goes through: aliases resolved in
 * place (errors point at the anchor) and a bound on nesting and size.
 *
 * @module
 */

import { type Document, isAlias, isMap, isSeq, type Node } from "yaml";

/** The deepest nesting of mappings and lists a recipe may have (blocks in blocks included). */
export const MAX_DEPTH = 64;
/** The most values a recipe may expand to once aliases are followed (a guard against alias bombs). */
const MAX_NODES = 1_000_000;

/**
 * Anchors and aliases: every alias is replaced by the node it names (so
 * errors point at the anchor). One iterative walk in document order, which
 * does not walk into what it put in place: each node is visited once, where
 * it is written, and nothing grows however aliases nest.
 */
export function resolveAliases(doc: Document): void {
  const anchors = new Map<string, unknown>();
  const stack: unknown[] = [doc.contents];
  const resolved = (alias: { source: string }) => anchors.get(alias.source) ?? alias;
  while (stack.length > 0) {
    const node = stack.pop() as { anchor?: string } | null;
    if (node?.anchor) anchors.set(node.anchor, node);
    const children: unknown[] = [];
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isAlias(pair.value)) pair.value = resolved(pair.value);
        else children.push(pair.value);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        if (isAlias(item)) node.items[i] = resolved(item);
        else children.push(item);
      });
    }
    stack.push(...children.reverse());
  }
}

/** Whether the document nests at most MAX_DEPTH levels (checked without recursion); else `issue`. */
export function shallowEnough(
  root: Node | null,
  issue: (node: Node, message: string) => void,
): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 0 }];
  for (let visited = 0; stack.length > 0; visited++) {
    const { node, depth } = stack.pop()!;
    if (visited > MAX_NODES) {
      issue(
        node as Node,
        `the recipe expands to more than ${MAX_NODES} values (aliases of aliases?)`,
      );
      return false;
    }
    if (depth > MAX_DEPTH) {
      issue(node as Node, `nested more than ${MAX_DEPTH} levels deep`);
      return false;
    }
    if (isMap(node)) {
      for (const pair of node.items) stack.push({ node: pair.value, depth: depth + 1 });
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push({ node: item, depth: depth + 1 });
    }
  }
  return true;
}
