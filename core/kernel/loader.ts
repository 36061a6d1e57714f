// Resolves plugin specs (built-in id, local path, npm package), validates options and runs setup.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { PluginSpec } from '../../config/schema.ts';
import { ConfigError, formatKeyPath } from './errors.ts';
import { zodToConfigError } from './config.ts';
import { PluginError, type Dispose, type PluginDefinition } from './plugin.ts';

const builtinRoot = fileURLToPath(new URL('../../plugins/', import.meta.url));

export interface ResolvedPlugin {
  readonly definition: PluginDefinition<unknown>;
  readonly options: unknown;
  /** Where it came from, for error messages: `plugins[2]` or `(built-in)`. */
  readonly keyPath: string;
  readonly source: string;
}

export interface PluginSource {
  readonly spec: PluginSpec;
  readonly keyPath: ReadonlyArray<string | number>;
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
  for (const { spec, keyPath: rawPath } of sources) {
    const keyPath = formatKeyPath(rawPath) || '(built-in)';
    const name = typeof spec === 'string' ? spec : spec.use;
    const rawOptions = typeof spec === 'string' ? undefined : spec.options;
    const entry = locate(name, configDir, keyPath, configFile);
    let mod: { default?: unknown };
    try {
      mod = await import(pathToFileURL(entry).href);
    } catch (error) {
      throw new ConfigError(`plugin "${name}" could not be loaded: ${(error as Error).message}`, { file: configFile, keyPath, cause: error });
    }
    const definition = mod.default as PluginDefinition<unknown> | undefined;
    if (!definition || typeof definition !== 'object' || typeof definition.id !== 'string') {
      throw new ConfigError(`plugin "${name}" has no default export made with definePlugin({ id, ... })`, {
        file: configFile,
        keyPath,
        hint: 'export default definePlugin({ id: "my-plugin", connector(api) { ... } })',
      });
    }
    let options: unknown = rawOptions;
    if (definition.options) {
      const parsed = definition.options.safeParse(rawOptions ?? {});
      if (!parsed.success) {
        const error = zodToConfigError(parsed.error, configFile, [...rawPath, 'options']);
        throw new ConfigError(`plugin "${definition.id}": ${parsed.error.issues[0]!.message}`, {
          file: configFile,
          keyPath: error.keyPath,
          hint: 'see the plugin\'s documentation for its options',
        });
      }
      options = parsed.data;
    } else if (rawOptions !== undefined) {
      throw new ConfigError(`plugin "${definition.id}" takes no options`, { file: configFile, keyPath: `${keyPath}.options`, hint: 'remove the options key' });
    }
    // A plugin listed twice (e.g. a built-in re-listed with options) keeps the later options.
    const existing = resolved.findIndex((p) => p.definition.id === definition.id);
    const plugin = { definition, options, keyPath, source: entry };
    if (existing >= 0) resolved[existing] = plugin;
    else resolved.push(plugin);
  }
  return resolved;
}

/** Runs `setup` for every plugin that extends this runtime; returns the disposers in reverse order. */
export async function setupPlugins<Api>(
  plugins: readonly ResolvedPlugin[],
  runtime: 'edge' | 'connector',
  apiFor: (plugin: ResolvedPlugin) => Api,
): Promise<Dispose[]> {
  const disposers: Dispose[] = [];
  for (const plugin of plugins) {
    const setup = plugin.definition[runtime] as ((api: Api, options: unknown) => unknown) | undefined;
    if (!setup) continue;
    try {
      const dispose = await setup.call(plugin.definition, apiFor(plugin), plugin.options);
      if (typeof dispose === 'function') disposers.unshift(dispose as Dispose);
    } catch (error) {
      await runDisposers(disposers);
      throw error instanceof PluginError ? error : new PluginError(plugin.definition.id, `${runtime} setup`, error);
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
