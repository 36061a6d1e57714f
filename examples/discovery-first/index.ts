// Example third-party plugin: edge addresses from its options or a file, asked before discovery-static's cert.pem address.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { definePlugin, z, type EdgeAddress } from 'burrow';

const address = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'expected host:port, e.g. edge-1.example.test:7844 or [::1]:7844');

const options = z.strictObject({
  /** Nearest first. */
  edges: z.array(address).default([]),
  /** One host:port per line, relative to the config file; read again whenever the connector looks for edges. */
  file: z.string().min(1).optional(),
});

export default definePlugin({
  id: 'discovery-first',
  description: 'Edge addresses from options or a file, before cert.pem',
  // Takes discovery-static's slot: this answers first, discovery-static stays behind it as the fallback.
  provides: ['edge-discovery'],
  options,
  connector(api, { edges, file }) {
    api.hooks.resolveEdges.tapPromise('discovery-first', async ({ overrides }) => {
      // `--edge` on the command line is the operator's explicit choice; discovery-static serves it.
      if (overrides.length) return undefined;
      const listed = [...edges, ...(file ? await readAddresses(path.resolve(api.configDir, file)) : [])];
      // Answering nothing lets the next plugin (discovery-static) answer.
      return listed.length ? listed.map(parse) : undefined;
    });
  },
});

async function readAddresses(file: string): Promise<string[]> {
  const lines = (await readFile(file, 'utf8')).split('\n').map((line) => line.trim());
  return lines.filter((line) => line !== '' && !line.startsWith('#'));
}

function parse(hostPort: string): EdgeAddress {
  const index = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, index).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(index + 1)) };
}
