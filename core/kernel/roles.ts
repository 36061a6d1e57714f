// The replaceable roles: each is one slot that a default plugin fills and a config-listed plugin can take over.

/**
 * `exclusive` roles hold one service (only one plugin may provide it), so a config-listed plugin that
 * fills one replaces the default. The others are resolver chains: the config-listed plugin answers
 * first and the default stays behind it as the fallback, unless the config disables it.
 */
export const roles = {
  api: { exclusive: true, description: 'the edge API listener and the router plugins add routes to (ApiRouterToken)' },
  registry: { exclusive: true, description: 'tunnels, secrets, routes and presence (TunnelRegistryToken)' },
  'edge-discovery': { exclusive: false, description: 'edge addresses for the connector (resolveEdges)' },
  'trust-store': { exclusive: true, description: 'the origin CA and the API-token signing key (TrustStoreToken)' },
  'token-signer': { exclusive: true, description: 'API tokens: the admin token and zone tokens (ApiAuthToken)' },
  metrics: { exclusive: true, description: 'the Prometheus registry every plugin adds series to (MetricsToken)' },
} as const satisfies Record<string, { exclusive: boolean; description: string }>;

export type Role = keyof typeof roles;
