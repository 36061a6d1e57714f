// Burrow's public API for plugin and config authors: everything a plugin imports comes from here.
export { definePlugin, type PluginDefinition } from './plugin.ts';
export { PluginError, type Dispose, type MaybePromise, type PluginManifest } from './kernel/plugin.ts';
export { roles, type Role } from './kernel/roles.ts';
export { ZoneLoginToken, type CliPluginApi, type ZoneLogin } from './cli/plugin-api.ts';
/** The settings of `burrow edge --dev`: a throwaway edge on loopback (what `burrow demo` runs). */
export { devEdgeSettings } from '../config/dev-edge.ts';
export { defineConfig, loadConfig, validateConfig, burrowHome } from './kernel/config.ts';
/** The zod Burrow validates options with: a plugin declares `options: z.strictObject({...})` without its own copy. */
export { z } from 'zod';
export { AttributedError, BurrowError, ConfigError } from './kernel/errors.ts';
export { serviceToken, type ServiceToken, type ServiceRegistry } from './kernel/services.ts';
export { MetricsToken } from './kernel/metrics.ts';
export type { Middleware, Next } from './kernel/middleware.ts';
export { reply, beforeHeaders, type AnyResponse } from './kernel/http-response.ts';
export { createLogger, type Logger } from './kernel/logger.ts';
export { edgeSection, type BurrowConfig, type BurrowConfigInput, type EdgeSettings } from '../config/schema.ts';

export { Edge, type EdgeOptions } from './edge/edge.ts';
export type { EdgePluginApi } from './edge/plugin-api.ts';
export { RegistrationRefused, type EdgeHooks, type EdgeConnectionInfo, type EdgeAddresses, type Forwarding, type RegistrationAttempt, type RouteRequest } from './edge/hooks.ts';
export { TunnelRegistryToken, RouteConflictError, mintTunnel, secretMatches, publicTunnel, type StoredTunnel, type TunnelRegistry, type TunnelRecord, type RouteRecord, type CreatedTunnel, type PresenceRecord, type NetworkStore, type PopRecord, type LinkReport } from './edge/registry.ts';
export { ApiError, ApiRouterToken, type ApiHandler, type ApiRequest, type ApiResult, type ApiRouteOptions, type ApiRouter, type HttpMethod } from './edge/api.ts';
export { isSameOrigin, readForm, requestCookies } from './edge/page-forms.ts';
export { EdgeClient, EdgeApiError } from './edge-client.ts';
export type { VisitorContext, EdgeMiddleware } from './edge/visitor-proxy.ts';
export { requestHeaders, responseHeaders } from './edge/forwarding-headers.ts';
export { dropSession } from './edge/connections.ts';
export { publicAddresses, type PublicAddresses } from './edge/public-addresses.ts';

export { Connector, type ConnectorOptions } from './connector/connector.ts';
export type { ConnectorPluginApi } from './connector/plugin-api.ts';
export type { ConnectorHooks, TunnelCredentials, EdgeAddress, CredentialsQuery, RequestRecord } from './connector/hooks.ts';
export {
  OriginError,
  defineOrigin,
  type Origin,
  type RequestContext,
  type StreamRequest,
  type OriginEnvironment,
  type OriginAdapter,
  type OriginOptionsSchema,
} from './connector/origin.ts';
export type { ConnectorMiddleware } from './connector/request-router.ts';
export { Ingress, IngressRule, type ServiceSpec, type IngressRuleConfig, type OriginRequestConfig } from './connector/ingress.ts';
/** For `originRequest` duration options declared by origin plugins, in cloudflared's Go syntax. */
export { tryParseDuration, DURATION_HINT, durationSchema } from './kernel/duration.ts';
export { HOP_BY_HOP, RESERVED_PREFIX, connectionTokens, isHopByHop, endToEndHeaders, type EndToEndOptions } from './transport/hop-by-hop.ts';
export { normalizeHost, hostInZone, splitHostPort, formatHostPort, isWildcardHost, reachableAddress } from './transport/host.ts';
export { Headers, EDGE_SERVER_NAME, http2SessionOptions, SESSION_WINDOW } from './transport/protocol.ts';
export { Backoff, type BackoffOptions } from './transport/backoff.ts';
export { relay, mustPause, RELAY_BUFFER, type RelayOptions } from './transport/relay.ts';
export { TrustStoreToken, ApiAuthToken, type TrustStore, type ApiAuth, type Principal, type CertifiedKey } from './edge/trust.ts';
export { statusPage } from './edge/status-pages.ts';
export { ensurePrivateDir, readIfExists, writeFileAtomic } from './kernel/files.ts';
