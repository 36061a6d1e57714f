// Built-in plugin: edge addresses from `--edge` flags or the config's `edge:` list, else from the credentials
// (cert.pem's edge address). Taps before (stage 0) and after (stage 20) SRV discovery of cert.pem's domain.
import { definePlugin, type EdgeAddress, type Logger } from 'burrow';

export default definePlugin({
  id: 'discovery-static',
  description: 'Edge addresses from --edge, the edge: list, or cert.pem',
  provides: ['edge-discovery'],
  connector(api) {
    const said = announcer(api.log);
    api.hooks.resolveEdges.tap('discovery-static', ({ overrides, configured }) => {
      if (overrides.length) return said('--edge', overrides);
      if (configured.length) return said('the config\'s edge: list', configured);
      return undefined;
    });
    api.hooks.resolveEdges.tap({ name: 'discovery-static', stage: 20 }, ({ credentials }) => (credentials.edge ? said("the credentials' edge address", [credentials.edge]) : undefined));
  },
});

/** Logs where the edges came from when that changes (not at every reconnect), and returns them parsed. */
function announcer(log: Logger): (source: string, addresses: readonly string[]) => EdgeAddress[] {
  let last = '';
  return (source, addresses) => {
    const now = `${source}: ${addresses.join(', ')}`;
    if (now !== last) log.info({ source, edges: addresses }, `edges from ${source}`);
    last = now;
    return addresses.map(parseEdgeAddress);
  };
}

/** Accepts `host:port`, `[v6]:port` or a URL; the port defaults to 7844. */
export function parseEdgeAddress(address: string): EdgeAddress {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `tls://${address}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 7844 };
}
