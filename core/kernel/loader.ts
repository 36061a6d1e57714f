// Resolves plugin specs (built-in id, local path, npm package), validates options and runs setup.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { PluginSpec } from '../../config/schema.ts';
import { ConfigError, formatKeyPath } from './errors.ts';
import { keysAt, suggestKeys, zodToConfigError } from './config.ts';
import { passesThrough, PluginError, type Dispose, type PluginManifest } from './plugin.ts';

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
    throw new ConfigError(`unknown plugin "${name}": it is not a built-in plugin and no npm package of that name is installed`, {
      file,
      keyPath,
      hint: `built-ins are the folders of plugins/; for a package run \`npm install ${name}\` next to the config file`,
    });
  }
}

export async function resolvePlugins(sources: readonly PluginSource[], configFile?: string): Promise<ResolvedPlugin[]> {
  const configDir = configFile ? path.dirname(configFile) : process.cwd();
  const resolved: ResolvedPlugin[] = [];
  for (const source of sources) {
    const { spec, keyPath: rawPath } = source;
    const keyPath = formatKeyPath(rawPath) || '(built-in)';
    const use = typeof spec === 'string' ? spec : spec.use;
    const rawOptions = typeof spec === 'string' ? undefined : spec.options;
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
    const options = validateOptions(definition, rawOptions, rawPath, keyPath, configFile);
    const plugin: ResolvedPlugin = { definition, options, keyPath, source: entry, name };
    // A plugin listed twice (e.g. a built-in re-listed with options) keeps the later options;
    // named instances are separate, and their names must be unique.
    if (name !== undefined) {
      const clash = resolved.find((p) => p.name === name);
      if (clash) {
        throw new ConfigError(`the plugin instance name "${name}" is used twice (also at ${clash.keyPath})`, {
          file: configFile,
          keyPath: `${keyPath}.name`,
          hint: 'give each named plugin instance its own name',
        });
      }
      resolved.push(plugin);
      continue;
    }
    const existing = resolved.findIndex((p) => p.name === undefined && p.definition.id === definition.id);
    if (existing >= 0) resolved[existing] = plugin;
    else resolved.push(plugin);
  }
  return resolved;
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
