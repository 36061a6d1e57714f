// Typed service tokens: the shared services plugins provide and consume through the container.
import type { Container } from 'inversify';
import type { BurrowErrorCode } from './errors.ts';

/** A DI token that carries the type of the service bound to it. */
export interface ServiceToken<T> {
  readonly id: symbol;
  readonly description: string;
  /** Phantom field: only here so TypeScript keeps T. */
  readonly __type?: T;
}

export function serviceToken<T>(description: string): ServiceToken<T> {
  return Object.freeze({ id: Symbol.for(`burrow.${description}`), description });
}

/**
 * A service provided twice or missing. Not a BurrowError on purpose: plugin setup and hooks wrap it in a PluginError
 * that names the plugin which provided or asked for the service; the code stays on the PluginError's cause.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: Extract<BurrowErrorCode, 'BURROW_ERR_SERVICE_CONFLICT' | 'BURROW_ERR_SERVICE_MISSING'>,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/**
 * The narrow view of the container that plugins get: they can provide a service and look services up,
 * but never rebind what another plugin provided.
 */
export class ServiceRegistry {
  constructor(private readonly container: Container) {}

  provide<T>(token: ServiceToken<T>, value: T): void {
    if (this.container.isBound(token.id)) {
      throw new ServiceError('BURROW_ERR_SERVICE_CONFLICT', `service "${token.description}" is already provided; only one plugin may provide it (list one plugin per role, see core/kernel/roles.ts)`);
    }
    this.container.bind<T>(token.id).toConstantValue(value);
  }

  get<T>(token: ServiceToken<T>): T {
    if (!this.container.isBound(token.id)) {
      throw new ServiceError('BURROW_ERR_SERVICE_MISSING', `no plugin provides the service "${token.description}"; enable a plugin that does`);
    }
    return this.container.get<T>(token.id);
  }

  find<T>(token: ServiceToken<T>): T | undefined {
    return this.container.isBound(token.id) ? this.container.get<T>(token.id) : undefined;
  }
}
