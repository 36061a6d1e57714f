// Burrow's public API for plugin and config authors: everything a plugin imports comes from here.
export { definePlugin, type PluginDefinition } from './plugin.ts';
export { PluginError, type Dispose, type MaybePromise, type PluginManifest } from './kernel/plugin.ts';
export { roles, type Role } from './kernel/roles.ts';
export type { CliPluginApi } from './cli/plugin-api.ts';
export { defineConfig, loadConfig } from './kernel/config.ts';
/** The zod Burrow validates options with: a plugin declares `options: z.strictObject({...})` without its own copy. */
export { z } from 'zod';
export { BurrowError, ConfigError } from './kernel/errors.ts';
export { serviceToken, type ServiceToken, type ServiceRegistry } from './kernel/services.ts';
export type { Middleware, Next } from './kernel/middleware.ts';
export { reply, beforeHeaders, type AnyResponse } from './kernel/http-response.ts';
export type { Logger } from './kernel/logger.ts';
export type { BurrowConfig, BurrowConfigInput, EdgeSettings } from '../config/schema.ts';

export { Edge, type EdgeOptions } from './edge/edge.ts';
export type { EdgePluginApi } from './edge/plugin-api.ts';
export { RegistrationRefused, type EdgeHooks, type EdgeConnectionInfo, type RegistrationAttempt, type RouteRequest } from './edge/hooks.ts';
export { TunnelRegistryToken, type TunnelRegistry, type TunnelRecord, type RouteRecord } from './edge/registry.ts';
export { ApiError, type ApiHandler, type ApiRequest } from './edge/api-server.ts';
export type { VisitorContext, EdgeMiddleware } from './edge/visitor-proxy.ts';

export { Connector, type ConnectorOptions } from './connector/connector.ts';
export type { ConnectorPluginApi } from './connector/plugin-api.ts';
export type { ConnectorHooks, TunnelCredentials, EdgeAddress, CredentialsQuery } from './connector/hooks.ts';
export { OriginError, type Origin, type RequestContext, type OriginEnvironment } from './connector/origin.ts';
export type { ConnectorMiddleware } from './connector/request-router.ts';
export { Ingress, IngressRule, type ServiceSpec } from './connector/ingress.ts';
export type { OriginRequestOptions } from './connector/origin-request.ts';
export { HOP_BY_HOP, RESERVED_PREFIX, connectionTokens, isHopByHop, endToEndHeaders, type EndToEndOptions } from './transport/hop-by-hop.ts';
export { normalizeHost, hostInZone } from './transport/host.ts';
export { Headers, EDGE_SERVER_NAME } from './transport/protocol.ts';
