// core/ has no import cycles, type-only imports included: the kernel knows no runtime, a runtime's parts import one way.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const core = fileURLToPath(new URL('../../core/', import.meta.url));
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/g;

async function graph(): Promise<Map<string, string[]>> {
  const files = (await readdir(core, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => path.resolve(path.dirname(file), m[1]!)).filter((target) => target.startsWith(core));
    edges.set(file, targets);
  }
  return edges;
}

/** One cycle through `start`, as a list of files, or undefined. */
function cycleFrom(start: string, edges: Map<string, string[]>): string[] | undefined {
  const stack: string[] = [];
  const done = new Set<string>();
  const visit = (file: string): string[] | undefined => {
    if (stack.includes(file)) return [...stack.slice(stack.indexOf(file)), file];
    if (done.has(file)) return undefined;
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    done.add(file);
    return undefined;
  };
  return visit(start);
}

describe('core imports', () => {
  it('form no cycle', async () => {
    const edges = await graph();
    for (const file of edges.keys()) {
      const cycle = cycleFrom(file, edges);
      assert.equal(cycle, undefined, `import cycle: ${cycle?.map((f) => path.relative(core, f)).join(' -> ')}`);
    }
  });
});
