// The origin schemes the loaded plugins declare: which adapter serves a service, and its `originRequest` options.
import type { z } from 'zod';
import { ConfigError, didYouMean, formatKeyPath, showValue } from '../kernel/errors.ts';
import { passesThrough, PluginError, type PluginManifest } from '../kernel/plugin.ts';
import type { IngressRule, OriginChecks, OriginRequestLayer, ServiceSpec } from './ingress.ts';
import type { Origin, OriginAdapter, OriginEnvironment } from './origin.ts';

type KeyPath = ReadonlyArray<string | number>;


interface Entry {
  readonly adapter: OriginAdapter<unknown, unknown>;
  readonly pluginId: string;
  readonly pluginOptions: unknown;
}

/** What the catalog is built from: loaded plugins (a definition and its validated options). */
export interface PluginWithOptions {
  readonly definition: PluginManifest<unknown>;
  readonly options: unknown;
}

export class OriginCatalog implements OriginChecks {
  private readonly byScheme = new Map<string, Entry>();
  /** Each declared `originRequest` key with the first adapter that declares it. */
  private readonly fields = new Map<string, { schema: z.ZodType; pluginId: string }>();
  private readonly examples: string[] = [];
  private readonly adapters = new Set<OriginAdapter<unknown, unknown>>();

  /** Earlier plugins win a scheme two of them claim, as bail hooks answer in plugin order. */
  static of(plugins: readonly PluginWithOptions[]): OriginCatalog {
    const catalog = new OriginCatalog();
    for (const { definition, options } of plugins) {
      for (const adapter of (definition as { origins?: readonly OriginAdapter<unknown, unknown>[] }).origins ?? []) catalog.add(adapter, definition.id, options);
    }
    return catalog;
  }

  private add(adapter: OriginAdapter<unknown, unknown>, pluginId: string, pluginOptions: unknown): void {
    // A plugin listed as several named instances declares the same adapters again.
    if (this.adapters.has(adapter)) return;
    this.adapters.add(adapter);
    for (const scheme of adapter.schemes) {
      if (!this.byScheme.has(scheme)) this.byScheme.set(scheme, { adapter, pluginId, pluginOptions });
    }
    for (const [key, schema] of Object.entries(adapter.options?.shape ?? {})) {
      if (!this.fields.has(key)) this.fields.set(key, { schema, pluginId });
    }
    this.examples.push(...(adapter.examples ?? []));
  }

  get schemes(): string[] {
    return [...this.byScheme.keys()];
  }

  /** Every declared `originRequest` key with its schema, in plugin order (the editor schema). */
  get optionFields(): ReadonlyMap<string, z.ZodType> {
    return new Map([...this.fields].map(([key, { schema }]) => [key, schema]));
  }

  /** "use http://host:port, ... or hello_world": the adapters' examples, for a service that is not valid. */
  get serviceHint(): string | undefined {
    const { examples } = this;
    if (examples.length === 0) return undefined;
    return `use ${examples.length === 1 ? examples[0] : `${examples.slice(0, -1).join(', ')} or ${examples[examples.length - 1]}`}`;
  }

  /** Checks one `originRequest` block: every key declared by a loaded adapter, every value fit for it. */
  checkLayer({ values, keyPath }: OriginRequestLayer, file?: string): void {
    for (const key of Object.keys(values)) {
      const field = this.fields.get(key);
      if (!field) {
        const known = [...this.fields.keys()];
        const meant = didYouMean(key, known);
        const hint = meant !== undefined ? `did you mean "${meant}"?` : known.length ? `use one of ${known.join(', ')}` : 'remove it: no loaded plugin reads originRequest options';
        throw new ConfigError(`unknown option "${key}"`, { file, keyPath: formatKeyPath([...keyPath, key]), hint });
      }
      if (values[key] !== undefined) checkValue(field.schema, values[key], [...keyPath, key], field.pluginId, file);
    }
  }

  /**
   * Checks the rule's service with the adapter serving its scheme, and returns the options in effect
   * for it: the adapter's defaults, then each layer in order, for the keys the adapter reads.
   */
  check(service: ServiceSpec, layers: readonly OriginRequestLayer[], keyPath: KeyPath, file?: string): Readonly<Record<string, unknown>> {
    const entry = this.entryFor(service, keyPath, file);
    this.parse(service, keyPath, file);
    const schema = entry.adapter.options;
    if (!schema) return Object.freeze({});
    const merged: Record<string, unknown> = {};
    const from = new Map<string, KeyPath>();
    for (const layer of layers) {
      for (const key of Object.keys(schema.shape)) {
        if (layer.values[key] === undefined) continue;
        merged[key] = layer.values[key];
        from.set(key, layer.keyPath);
      }
    }
    for (const [key, value] of Object.entries(merged)) checkValue(schema.shape[key]!, value, [...from.get(key)!, key], entry.pluginId, file);
    const result = schema.safeParse(merged);
    if (!result.success) {
      // Only checks across fields fail here: each value alone passed above.
      const issue = result.error.issues[0]!;
      const [key] = issue.path;
      const where = typeof key === 'string' && from.has(key) ? [...from.get(key)!, key] : layers[layers.length - 1]!.keyPath;
      throw new ConfigError(issue.message, { file, keyPath: formatKeyPath(where), hint: `see plugin "${entry.pluginId}" for its originRequest options` });
    }
    return Object.freeze(result.data as Record<string, unknown>);
  }

  /** The rule's origin; what the adapter throws is reported as its plugin's failure unless it is the user's to fix. */
  create(rule: IngressRule, env: Omit<OriginEnvironment, 'rule' | 'originRequest' | 'pluginOptions'>): Origin {
    const keyPath = ['ingress', rule.index, 'service'];
    const entry = this.entryFor(rule.service, keyPath, env.configFile);
    const target = this.parse(rule.service, keyPath, env.configFile);
    try {
      return entry.adapter.create(target, { ...env, rule, originRequest: rule.originRequest, pluginOptions: entry.pluginOptions });
    } catch (error) {
      throw passesThrough(error) ? error : new PluginError(entry.pluginId, `creating the origin for ingress[${rule.index}]`, error);
    }
  }

  private entryFor(service: ServiceSpec, keyPath: KeyPath, file: string | undefined): Entry {
    const entry = this.byScheme.get(service.scheme);
    if (entry) return entry;
    const known = this.schemes;
    throw new ConfigError(`no plugin serves "${service.raw}" (scheme "${service.scheme}")`, {
      file,
      keyPath: formatKeyPath(keyPath),
      hint: `${known.length ? `use a scheme the loaded plugins serve (${known.join(', ')}), or ` : ''}add the plugin that serves "${service.scheme}" to \`plugins\``,
    });
  }

  /**
   * The service as the adapter serving it reads it (a URL, a socket path, a status ...). Adapters parse
   * without side effects, so `create` parses again rather than rules carrying plugin data.
   */
  parse(service: ServiceSpec, keyPath: KeyPath, file?: string): unknown {
    const { adapter } = this.entryFor(service, keyPath, file);
    if (!adapter.parse) return service;
    return adapter.parse(service, (problem, hint) => {
      throw new ConfigError(problem, { file, keyPath: formatKeyPath(keyPath), hint });
    });
  }
}

function checkValue(schema: z.ZodType, value: unknown, keyPath: KeyPath, pluginId: string, file: string | undefined): void {
  const result = schema.safeParse(value, { error: () => `${showValue(value)} is not a valid value` });
  if (result.success) return;
  throw new ConfigError(result.error.issues[0]!.message, {
    file,
    keyPath: formatKeyPath(keyPath),
    hint: hintOf(schema) ?? `see plugin "${pluginId}" for what ${String(keyPath[keyPath.length - 1])} takes`,
  });
}

/** The `.meta({ hint })` of a field, looking through optional and default wrappers. */
function hintOf(schema: z.ZodType): string | undefined {
  for (let current: z.ZodType | undefined = schema; current; current = (current.def as { innerType?: z.ZodType }).innerType) {
    const hint = current.meta()?.hint;
    if (typeof hint === 'string') return hint;
  }
  return undefined;
}
