// Resolves plugin specs (built-in id, local path, npm package), fills the role slots of the defaults, validates options and runs setup.
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { PluginSpec } from '../../config/schema.ts';
import { ConfigError, didYouMean, formatKeyPath } from './errors.ts';
import { keysAt, suggestKeys, zodToConfigError } from './config.ts';
import { passesThrough, PluginError, type Dispose, type PluginManifest } from './plugin.ts';
import { roles, type Role } from './roles.ts';

const builtinRoot = fileURLToPath(new URL('../../plugins/', import.meta.url));

/** A loaded plugin definition: the manifest, plus setup functions keyed by runtime (typed in core/plugin.ts). */
export type LoadedDefinition = PluginManifest<unknown>;

export interface ResolvedPlugin {
  readonly definition: LoadedDefinition;
  readonly options: unknown;
  /**
   * Instance name (`name:` in the plugins list, or set for middleware listed inline in an ingress
   * rule). A named instance's connector middleware runs only on the ingress rules that list it.
   */
  readonly name?: string;
  /** Where it came from, for error messages: `plugins[2]` or `(built-in)`. */
  readonly keyPath: string;
  readonly source: string;
}

/** A plugin given as a definition object rather than a name (the test kit, embedding). */
export interface InlinePluginSpec {
  readonly use: PluginManifest<any>;
  readonly options?: unknown;
  readonly name?: string;
  readonly enabled?: boolean;
}

export interface PluginSource {
  readonly spec: PluginSpec | InlinePluginSpec;
  readonly keyPath: ReadonlyArray<string | number>;
  /** Instance name given by the caller (an ingress rule's inline middleware). */
  readonly name?: string;
}

/** Directory holding a built-in plugin named `id`, if there is one. */
export function builtinPluginPath(id: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) return undefined;
  const file = path.join(builtinRoot, id, 'index.ts');
  return existsSync(file) ? file : undefined;
}

let builtinIds: readonly string[] | undefined;
/** The ids of all built-in plugins (the folders of plugins/), for did-you-mean on a misspelt id. */
function listBuiltinIds(): readonly string[] {
  builtinIds ??= readdirSync(builtinRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && builtinPluginPath(entry.name) !== undefined)
    .map((entry) => entry.name);
  return builtinIds;
}

function locate(name: string, configDir: string, keyPath: string, file?: string): string {
  if (name.startsWith('.') || path.isAbsolute(name)) {
    const abs = path.resolve(configDir, name);
    if (!existsSync(abs)) {
      throw new ConfigError(`plugin path "${name}" does not resolve (looked for ${abs})`, {
        file,
        keyPath,
        hint: 'paths are relative to the config file; check the spelling and extension (.ts, .js, .mjs)',
      });
    }
    return abs;
  }
  const builtin = builtinPluginPath(name);
  if (builtin) return builtin;
  try {
    return createRequire(path.join(configDir, 'noop.js')).resolve(name);
  } catch {
    const meant = didYouMean(name, listBuiltinIds());
    throw new ConfigError(
      `unknown plugin "${name}": it is not a built-in plugin and no npm package of that name is installed${meant ? `; did you mean "${meant}"?` : ''}`,
      {
        file,
        keyPath,
        hint: meant ? `rename it to "${meant}"` : `built-ins are the folders of plugins/; for a package run \`npm install ${name}\` next to the config file`,
      },
    );
  }
}

/** One resolved entry of a plugin list, before the switched-off ones are dropped. */
interface PluginEntry {
  readonly plugin: ResolvedPlugin;
  readonly enabled: boolean;
}

export interface RuntimePluginLists {
  /** The built-in defaults (config/default.ts), in order. */
  readonly defaults: readonly PluginSpec[];
  /** What the config file (or the caller) lists, with key paths such as `plugins[2]`. */
  readonly listed: readonly PluginSource[];
  readonly configFile?: string;
}

/**
 * The plugins a runtime sets up: the defaults, with each config-listed plugin that fills a default's role
 * set up in that default's slot (so its bail-hook taps answer first). For an exclusive role the default is
 * then left out; for a resolver chain it stays right behind, as the fallback. `enabled: false` switches a
 * plugin off. Fails when two plugins fill one exclusive role or a plugin's `requires` is not loaded.
 */
export async function resolveRuntimePlugins({ defaults, listed, configFile }: RuntimePluginLists): Promise<ResolvedPlugin[]> {
  const defaultEntries = await resolveEntries(defaults.map((spec) => ({ spec, keyPath: [] })), configFile);
  const entries = mergeEntries(defaultEntries, await resolveEntries(listed, configFile), configFile);
  const plugins = entries.filter((entry) => entry.enabled).map((entry) => entry.plugin);
  checkExclusiveRoles(plugins, configFile);
  checkRequires(plugins, entries, configFile);
  return plugins;
}

/** Resolves a list as it is, without defaults or role slots (an ingress rule's inline middleware, tests). */
export async function resolvePlugins(sources: readonly PluginSource[], configFile?: string): Promise<ResolvedPlugin[]> {
  const entries = mergeEntries([], await resolveEntries(sources, configFile), configFile);
  return entries.filter((entry) => entry.enabled).map((entry) => entry.plugin);
}

async function resolveEntries(sources: readonly PluginSource[], configFile: string | undefined): Promise<PluginEntry[]> {
  const configDir = configFile ? path.dirname(configFile) : process.cwd();
  const entries: PluginEntry[] = [];
  for (const source of sources) {
    const { spec, keyPath: rawPath } = source;
    const keyPath = formatKeyPath(rawPath) || '(built-in)';
    const use = typeof spec === 'string' ? spec : spec.use;
    const rawOptions = typeof spec === 'string' ? undefined : spec.options;
    const enabled = typeof spec === 'string' || spec.enabled !== false;
    const name = source.name ?? (typeof spec === 'string' ? undefined : spec.name);
    let definition: LoadedDefinition | undefined;
    let entry: string;
    if (typeof use === 'string') {
      entry = locate(use, configDir, keyPath, configFile);
      definition = await importDefinition(use, entry, keyPath, configFile);
    } else {
      definition = use as LoadedDefinition;
      entry = '(inline)';
      if (!definition || typeof definition !== 'object' || typeof definition.id !== 'string') {
        throw new ConfigError('the plugin given inline is not a plugin definition', { file: configFile, keyPath, hint: 'pass the value definePlugin({ id, ... }) returned' });
      }
    }
    checkRoles(definition, keyPath, configFile);
    // A switched-off entry keeps its options unchecked, so turning a plugin off never needs its options fixed first.
    const options = enabled ? validateOptions(definition, rawOptions, rawPath, keyPath, configFile) : undefined;
    entries.push({ plugin: { definition, options, keyPath, source: entry, name }, enabled });
  }
  return entries;
}

/**
 * Lays the listed entries over the defaults. An unnamed entry for a plugin already present takes its place
 * (later options win, `enabled: false` switches it off); named instances are separate and need unique names.
 */
function mergeEntries(defaults: readonly PluginEntry[], listed: readonly PluginEntry[], configFile: string | undefined): PluginEntry[] {
  const merged = [...defaults];
  const replacedDefaults = new Set<PluginEntry>();
  for (const entry of listed) {
    const { plugin } = entry;
    if (plugin.name !== undefined) {
      const clash = merged.find((other) => other.plugin.name === plugin.name);
      if (clash) {
        throw new ConfigError(`the plugin instance name "${plugin.name}" is used twice (also at ${clash.plugin.keyPath})`, {
          file: configFile,
          keyPath: `${plugin.keyPath}.name`,
          hint: 'give each named plugin instance its own name',
        });
      }
      merged.push(entry);
      continue;
    }
    const existing = merged.findIndex((other) => other.plugin.name === undefined && other.plugin.definition.id === plugin.definition.id);
    if (existing >= 0) {
      merged[existing] = entry;
      continue;
    }
    const slotHolders = entry.enabled ? defaults.filter((d) => sharedRoles(d, entry).length > 0) : [];
    // The slot is where that default's id sits now: a default re-listed with options keeps its place.
    const slot = Math.min(...slotHolders.map((d) => merged.findIndex((m) => m.plugin.name === undefined && m.plugin.definition.id === d.plugin.definition.id)).filter((i) => i >= 0));
    if (Number.isFinite(slot)) merged.splice(slot, 0, entry);
    else merged.push(entry);
    for (const holder of slotHolders) if (sharedRoles(holder, entry).some((role) => roles[role].exclusive)) replacedDefaults.add(holder);
  }
  // A default re-listed in the config is no longer the default entry, so it stays; checkExclusiveRoles reports the clash.
  return merged.filter((entry) => !replacedDefaults.has(entry));
}

function sharedRoles(a: PluginEntry, b: PluginEntry): Role[] {
  const theirs = b.plugin.definition.provides ?? [];
  return (a.plugin.definition.provides ?? []).filter((role) => theirs.includes(role));
}

function checkRoles(definition: LoadedDefinition, keyPath: string, configFile: string | undefined): void {
  for (const role of definition.provides ?? []) {
    if (Object.hasOwn(roles, role)) continue;
    const meant = didYouMean(role, Object.keys(roles));
    throw new ConfigError(`plugin "${definition.id}" provides the unknown role "${role}"${meant ? `; did you mean "${meant}"?` : ''}`, {
      file: configFile,
      keyPath,
      hint: `fix \`provides\` in the plugin; the roles are ${Object.keys(roles).join(', ')} (core/kernel/roles.ts)`,
    });
  }
}

function checkExclusiveRoles(plugins: readonly ResolvedPlugin[], configFile: string | undefined): void {
  for (const [role, { exclusive }] of Object.entries(roles)) {
    if (!exclusive) continue;
    const [first, second] = plugins.filter((p) => p.definition.provides?.includes(role as Role));
    if (!second) continue;
    throw new ConfigError(
      `plugin "${second.definition.id}" and plugin "${first!.definition.id}" (${first!.keyPath}) both provide the ${role} role, which only one plugin may fill`,
      {
        file: configFile,
        keyPath: second.keyPath,
        hint: `keep one of them: remove ${second.keyPath} or ${first!.keyPath}, or set \`enabled: false\` on one`,
      },
    );
  }
}

function checkRequires(plugins: readonly ResolvedPlugin[], entries: readonly PluginEntry[], configFile: string | undefined): void {
  const loaded = new Set(plugins.map((p) => p.definition.id));
  for (const plugin of plugins) {
    for (const id of plugin.definition.requires ?? []) {
      if (loaded.has(id)) continue;
      const switchedOff = entries.find((entry) => !entry.enabled && entry.plugin.definition.id === id);
      const where = plugin.keyPath === '(built-in)' ? 'a built-in default' : `listed at ${plugin.keyPath}`;
      const list = plugin.keyPath.startsWith('edge.') ? 'edge.plugins' : 'plugins';
      throw new ConfigError(
        `plugin "${plugin.definition.id}" (${where}) requires the plugin "${id}", which ${switchedOff ? `is switched off at ${switchedOff.plugin.keyPath}` : 'is not loaded'}`,
        {
          file: configFile,
          keyPath: plugin.keyPath === '(built-in)' ? switchedOff?.plugin.keyPath : plugin.keyPath,
          hint: switchedOff ? `remove \`enabled: false\` from ${switchedOff.plugin.keyPath}` : `add \`- ${id}\` to ${list}`,
        },
      );
    }
  }
}

async function importDefinition(name: string, entry: string, keyPath: string, configFile: string | undefined): Promise<LoadedDefinition> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(entry).href);
  } catch (error) {
    throw new ConfigError(`plugin "${name}" could not be loaded: ${(error as Error).message}`, {
      file: configFile,
      keyPath,
      cause: error,
      hint: `fix the error in ${entry}, or remove the plugin from the list`,
    });
  }
  const definition = mod.default as LoadedDefinition | undefined;
  if (!definition || typeof definition !== 'object' || typeof definition.id !== 'string') {
    throw new ConfigError(`plugin "${name}" has no default export made with definePlugin({ id, ... })`, {
      file: configFile,
      keyPath,
      hint: 'export default definePlugin({ id: "my-plugin", connector(api) { ... } })',
    });
  }
  return definition;
}

function validateOptions(
  definition: PluginManifest<unknown>,
  rawOptions: unknown,
  rawPath: ReadonlyArray<string | number>,
  keyPath: string,
  configFile: string | undefined,
): unknown {
  if (!definition.options) {
    if (rawOptions !== undefined) {
      throw new ConfigError(`plugin "${definition.id}" takes no options`, { file: configFile, keyPath: `${keyPath}.options`, hint: 'remove the options key' });
    }
    return undefined;
  }
  const parsed = definition.options.safeParse(rawOptions ?? {});
  if (parsed.success) return parsed.data;
  const error = zodToConfigError(parsed.error, configFile, [...rawPath, 'options']);
  const issue = parsed.error.issues[0]!;
  let message = issue.message;
  let hint = "see the plugin's documentation for its options";
  if (issue.code === 'unrecognized_keys') {
    const suggestion = suggestKeys(issue.keys, keysAt(definition.options, issue.path));
    message = `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${suggestion ? `; ${suggestion.text}` : ''}`;
    if (suggestion) hint = suggestion.hint;
  }
  // A bad record key: say what the key should look like, not just that it is invalid.
  else if (issue.code === 'invalid_key' && issue.issues[0]) message = `invalid key: ${issue.issues[0].message}`;
  throw new ConfigError(`plugin "${definition.id}": ${message}`, { file: configFile, keyPath: error.keyPath, hint });
}

/** Runs `setup` for every plugin that extends this runtime; returns the disposers in reverse order. */
export async function setupPlugins<Api>(
  plugins: readonly ResolvedPlugin[],
  runtime: 'edge' | 'connector' | 'cli',
  apiFor: (plugin: ResolvedPlugin) => Api,
): Promise<Dispose[]> {
  const disposers: Dispose[] = [];
  for (const plugin of plugins) {
    const setup = (plugin.definition as unknown as Record<string, unknown>)[runtime] as ((api: Api, options: unknown) => unknown) | undefined;
    if (!setup) continue;
    try {
      const dispose = await setup.call(plugin.definition, apiFor(plugin), plugin.options);
      if (typeof dispose === 'function') disposers.unshift(dispose as Dispose);
    } catch (error) {
      await runDisposers(disposers);
      throw passesThrough(error) ? error : new PluginError(plugin.definition.id, `${runtime} setup`, error);
    }
  }
  return disposers;
}

export async function runDisposers(disposers: readonly Dispose[]): Promise<void> {
  for (const dispose of disposers) {
    try {
      await dispose();
    } catch {
      // Cleanup must be safe after a partial setup; one failing disposer must not keep others from running.
    }
  }
}
