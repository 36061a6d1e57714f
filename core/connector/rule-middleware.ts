// Per-rule middleware: an ingress rule's `middleware:` list, naming plugin instances or listing plugins inline.
import type { PluginSpec } from '../../config/schema.ts';
import { ConfigError, didYouMean, formatKeyPath, showValue } from '../kernel/errors.ts';
import type { PluginSource, ResolvedPlugin } from '../kernel/loader.ts';
import type { Logger } from '../kernel/logger.ts';
import type { Ingress, IngressRule } from './ingress.ts';
import type { ConnectorMiddleware } from './request-router.ts';

/** One item of a rule's `middleware:` list, by the plugin instance that serves it. */
interface RuleMiddlewareRef {
  readonly rule: IngressRule;
  /** The instance name: a `name:` from `plugins`, or the item's key path for an inline plugin. */
  readonly instance: string;
  readonly keyPath: string;
}

export interface RuleMiddlewarePlan {
  /** Plugins listed inline in rules, to resolve and set up after the `plugins` list. */
  readonly inlineSources: PluginSource[];
  readonly refs: RuleMiddlewareRef[];
}

const ITEM_HINT =
  'list plugin instance names (`name:` in plugins) or plugins, e.g. `middleware: [staff-login, { use: headers, options: { ... } }]`';

/**
 * Reads every rule's `middleware:` key. A string names a plugin instance from `plugins` (an entry with
 * `name:`), or else a plugin to run on this rule with its default options; an object is `{ use, options }`.
 */
export function planRuleMiddleware(ingress: Ingress, plugins: readonly ResolvedPlugin[], file?: string): RuleMiddlewarePlan {
  const names = new Set(plugins.flatMap((p) => (p.name === undefined ? [] : [p.name])));
  const plan: RuleMiddlewarePlan = { inlineSources: [], refs: [] };
  for (const rule of ingress.rules) {
    const list = rule.config.middleware;
    if (list === undefined || list === null) continue;
    const listPath = ['ingress', rule.index, 'middleware'];
    if (!Array.isArray(list)) {
      throw new ConfigError(`must be a list, got ${showValue(list)}`, { file, keyPath: formatKeyPath(listPath), hint: ITEM_HINT });
    }
    for (const [i, item] of list.entries()) {
      const itemPath = [...listPath, i];
      const keyPath = formatKeyPath(itemPath);
      if (typeof item === 'string' && names.has(item)) {
        plan.refs.push({ rule, instance: item, keyPath });
        continue;
      }
      const spec = inlineSpec(item, keyPath, file, names);
      plan.inlineSources.push({ spec, keyPath: itemPath, name: keyPath });
      plan.refs.push({ rule, instance: keyPath, keyPath });
    }
  }
  return plan;
}

function inlineSpec(item: unknown, keyPath: string, file: string | undefined, names: ReadonlySet<string>): PluginSpec {
  if (typeof item === 'string' && item !== '') {
    // Looks like a misspelt instance name rather than a plugin to load: say so before the loader's "unknown plugin".
    const meant = didYouMean(item, names);
    if (meant !== undefined) {
      throw new ConfigError(`no plugin instance is named "${item}"`, { file, keyPath, hint: `did you mean "${meant}"?` });
    }
    return item;
  }
  if (typeof item === 'object' && item !== null && !Array.isArray(item) && typeof (item as { use?: unknown }).use === 'string') {
    const { use, options, ...rest } = item as { use: string; options?: unknown };
    const extra = Object.keys(rest);
    if (extra.length > 0) {
      throw new ConfigError(`unknown key "${extra[0]}" in a rule's middleware item`, {
        file,
        keyPath: `${keyPath}.${extra[0]}`,
        hint: 'an inline middleware item takes `use` and `options`; to share one instance, give it a `name:` in plugins and list that name',
      });
    }
    return options === undefined ? { use } : { use, options };
  }
  throw new ConfigError(`${showValue(item)} is not a middleware item`, { file, keyPath, hint: ITEM_HINT });
}

/**
 * The middleware chain of each rule: global middleware first (plugin order), then the rule's own
 * list in the order written. Fails when an item names an instance that added no middleware.
 */
export function ruleChains(
  ingress: Ingress,
  plan: RuleMiddlewarePlan,
  plugins: readonly ResolvedPlugin[],
  global: readonly ConnectorMiddleware[],
  byInstance: ReadonlyMap<string, readonly ConnectorMiddleware[]>,
  log: Logger,
  file?: string,
): Map<IngressRule, readonly ConnectorMiddleware[]> {
  const chains = new Map<IngressRule, ConnectorMiddleware[]>(ingress.rules.map((rule) => [rule, [...global]]));
  for (const ref of plan.refs) {
    const middleware = byInstance.get(ref.instance);
    if (!middleware || middleware.length === 0) {
      const plugin = plugins.find((p) => p.name === ref.instance);
      throw new ConfigError(`plugin "${plugin?.definition.id ?? ref.instance}" adds no request middleware on the connector, so a rule cannot list it`, {
        file,
        keyPath: ref.keyPath,
        hint: 'list only middleware plugins here (headers, path-rewrite, basic-auth, jwt, ip-filter, rate-limit, compress, or your own that calls api.use)',
      });
    }
    chains.get(ref.rule)!.push(...middleware);
  }
  const used = new Set(plan.refs.map((ref) => ref.instance));
  for (const plugin of plugins) {
    if (plugin.name !== undefined && !used.has(plugin.name) && byInstance.has(plugin.name)) {
      log.warn({ plugin: plugin.definition.id, name: plugin.name }, 'named plugin instance is not listed by any ingress rule, so its middleware never runs');
    }
  }
  return chains;
}
