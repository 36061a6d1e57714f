// Built-in plugin: edge addresses from `--edge` flags, else from the credentials (cert.pem's edge address).
import { definePlugin, type EdgeAddress } from 'burrow';

export default definePlugin({
  id: 'discovery-static',
  description: 'Edge addresses from --edge or from cert.pem',
  provides: ['edge-discovery'],
  connector(api) {
    api.hooks.resolveEdges.tap('discovery-static', ({ credentials, overrides }) => {
      const addresses = overrides.length ? overrides : credentials.edge ? [credentials.edge] : [];
      return addresses.length ? addresses.map(parseEdgeAddress) : undefined;
    });
  },
});

/** Accepts `host:port`, `[v6]:port` or a URL; the port defaults to 7844. */
export function parseEdgeAddress(address: string): EdgeAddress {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `tls://${address}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 7844 };
}
