// The shared Prometheus registry: the metrics plugin provides it, every plugin adds its series to it.
import type { Registry } from 'prom-client';
import { serviceToken } from './services.ts';

/**
 * The one prom-client `Registry` of a runtime, served on `/metrics`. Register series with
 * `registers: [api.services.get(MetricsToken)]`; it is there from the metrics plugin's setup on, which the
 * defaults run first.
 */
export const MetricsToken = serviceToken<Registry>('Metrics');
