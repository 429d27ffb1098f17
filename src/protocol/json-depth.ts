/** Nesting depth of parsed JSON values, checked without recursion. Pure. */

/**
 * Whether a parsed JSON value nests arrays and objects more than `maxDepth` levels deep
 * (a scalar is depth 0, `[]` and `{}` depth 1). Iterative, so a hostile value cannot overflow the
 * stack here, and it stops at the first branch that is too deep.
 */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
