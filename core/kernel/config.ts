// Finds and validates the config file: cosmiconfig under the name `burrow`, or an explicit --config path.
import path from 'node:path';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { Parser as YamlParser, parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type BurrowConfig, type BurrowConfigInput } from '../../config/schema.ts';
import { ConfigError, didYouMean, formatKeyPath } from './errors.ts';

export interface LoadedConfig {
  /** Absolute path of the file the config came from, or undefined when none was found. */
  readonly file?: string;
  readonly config: BurrowConfig;
}

/** Typed helper for `burrow.config.ts`. */
export function defineConfig(config: BurrowConfigInput): BurrowConfigInput {
  return config;
}

/**
 * How deeply collections may nest in a YAML file. The yaml package builds values recursively, and a stack
 * overflow there can leave V8 unable to compile a regular expression afterwards, a fatal error that ends the
 * process the next time a file is read; no real config nests more than a few levels.
 */
const MAX_YAML_DEPTH = 64;

/** The offset of the first collection nested deeper than MAX_YAML_DEPTH, from the syntax tree (built without recursion). */
function tooDeep(content: string): number | undefined {
  const pending: Array<[node: unknown, depth: number]> = [];
  for (const token of new YamlParser().parse(content)) pending.push([token, 0]);
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    const { type, value, items, offset } = node as { type?: string; value?: unknown; items?: Array<{ key?: unknown; value?: unknown }>; offset?: number };
    if (type === 'document') pending.push([value, depth]);
    else if (type === 'block-map' || type === 'block-seq' || type === 'flow-collection') {
      if (depth >= MAX_YAML_DEPTH) return offset ?? 0;
      for (const item of items ?? []) pending.push([item.key, depth + 1], [item.value, depth + 1]);
    }
  }
  return undefined;
}

/** A YAML (or JSON) config file's content as data; a ConfigError naming `file` and the line when it does not parse. */
function readYaml(file: string, content: string): unknown {
  const deep = tooDeep(content);
  if (deep !== undefined) {
    const before = content.slice(0, deep).split('\n');
    throw new ConfigError(`the file nests lists and mappings more than ${MAX_YAML_DEPTH} deep (line ${before.length}, column ${before[before.length - 1]!.length + 1})`, {
      file,
      hint: 'check the brackets and indentation near that line',
    });
  }
  try {
    return parseYaml(content, { logLevel: 'error' }) ?? {};
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line}, column ${error.linePos[0].col})` : '';
    throw new ConfigError(`the file is not valid YAML${where}: ${(error as Error).message.split('\n')[0]}`, {
      file,
      hint: 'check the indentation and quoting near that line',
    });
  }
}

const loadYaml: Loader = readYaml;

/** A config file's content as loadConfig reads a YAML one (JSON is YAML too), validated; errors name `file`. */
export function parseConfigText(content: string, file: string): BurrowConfig {
  return validateConfig(readYaml(file, content), file);
}

// cosmiconfig 9's own TypeScript loader calls the TypeScript compiler API, which TypeScript 7 lacks;
// Burrow runs under tsx, so a plain import compiles the file.
const loadTs: Loader = async (file) => {
  const mod = (await import(`${pathToFileURL(path.resolve(file)).href}?t=${Date.now()}`)) as { default?: unknown };
  return mod.default ?? mod;
};

const explorer = cosmiconfig('burrow', {
  searchStrategy: 'global',
  loaders: { '.yaml': loadYaml, '.yml': loadYaml, noExt: loadYaml, '.ts': loadTs, '.mts': loadTs },
  searchPlaces: [
    'package.json',
    '.burrowrc',
    '.burrowrc.json',
    '.burrowrc.yaml',
    '.burrowrc.yml',
    '.burrowrc.js',
    '.burrowrc.mjs',
    '.burrowrc.ts',
    'burrow.config.js',
    'burrow.config.mjs',
    'burrow.config.ts',
    'burrow.config.json',
    'burrow.config.yaml',
    'burrow.config.yml',
  ],
});

export function burrowHome(): string {
  return process.env.BURROW_HOME || path.join(os.homedir(), '.burrow');
}

/**
 * Loads `file` if given; otherwise searches from `cwd` upward, then `$BURROW_HOME/config.yml`
 * (where cloudflared users keep theirs). No file at all is a valid, empty config.
 */
export async function loadConfig(file?: string, cwd = process.cwd()): Promise<LoadedConfig> {
  let found: { filepath: string; config: unknown } | null;
  if (file) {
    const abs = path.resolve(cwd, file);
    if (!existsSync(abs)) {
      throw new ConfigError('the config file does not exist', { file: abs, hint: 'check the path given to --config' });
    }
    // A file that holds nothing but `null` (or nothing) is an empty config, still read from that file.
    found = (await explorer.load(abs).catch(rethrowWithFile(abs))) ?? { filepath: abs, config: {} };
  } else {
    found = await explorer.search(cwd).catch(rethrowWithFile(cwd));
    const homeConfig = ['config.yml', 'config.yaml'].map((name) => path.join(burrowHome(), name)).find((p) => existsSync(p));
    if (!found && homeConfig) found = await explorer.load(homeConfig).catch(rethrowWithFile(homeConfig));
  }
  if (!found) return { config: configSchema.parse({}) };
  return { file: found.filepath, config: validateConfig(found.config, found.filepath) };
}

function rethrowWithFile(file: string) {
  return (error: unknown): never => {
    if (error instanceof ConfigError) throw error;
    // cosmiconfig sets the file that failed to parse: a search reads several, and package.json files on the way.
    const failed = (error as { filepath?: unknown } | null)?.filepath;
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`the file could not be loaded: ${message}`, { file: typeof failed === 'string' ? failed : file, cause: error });
  };
}

export function validateConfig(raw: unknown, file?: string): BurrowConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  throw zodToConfigError(result.error, file, [], configSchema);
}

/**
 * Turns zod issues into one ConfigError that lists each key path with what was expected. With the
 * `schema` that failed, an unknown key names the nearest known key at that level (`tunnell` -> `tunnel`).
 */
export function zodToConfigError(error: z.ZodError, file?: string, prefix: ReadonlyArray<string | number> = [], schema?: z.ZodType): ConfigError {
  let rename: string | undefined;
  const issues = error.issues.map((issue) => {
    const keyPath = formatKeyPath([...prefix, ...(issue.path as Array<string | number>)]) || '(top level)';
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const suggestion = schema && suggestKeys(issue.keys, keysAt(schema, issue.path));
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${suggestion ? `; ${suggestion.text}` : ''}`;
      rename ??= suggestion?.hint;
    }
    return { keyPath, message };
  });
  const [first] = issues;
  const more = issues.slice(1).map((i) => `\n  also ${i.keyPath}: ${i.message}`).join('');
  return new ConfigError(`${first!.message}${more}`, {
    file,
    keyPath: first!.keyPath,
    hint: rename ?? 'see README.md#configuration for every key and its type (config/burrow.schema.json serves YAML editors)',
  });
}

/** `did you mean "tunnel"?` for the unknown keys that are near a known one, and a hint that renames them. */
export function suggestKeys(unknown: readonly string[], known: readonly string[]): { text: string; hint: string } | undefined {
  const pairs = unknown.flatMap((key) => {
    const meant = didYouMean(key, known);
    return meant === undefined ? [] : [[key, meant] as const];
  });
  if (pairs.length === 0) return undefined;
  const text = pairs.length === 1 && unknown.length === 1 ? `did you mean "${pairs[0]![1]}"?` : pairs.map(([key, meant]) => `"${key}": did you mean "${meant}"?`).join(', ');
  return { text, hint: `rename ${pairs.map(([key, meant]) => `"${key}" to "${meant}"`).join(', ')}` };
}

/** The keys an object schema accepts at `path` (through optional, default, array, record and union layers). */
export function keysAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  let current: Array<z.ZodType> = [schema];
  for (const step of [...path, undefined]) {
    current = current.flatMap(unwrap);
    if (step === undefined) break;
    current = current.flatMap((s) => {
      const def = defOf(s);
      if (def.type === 'object') {
        const child = (def.shape as Record<string, z.ZodType>)[String(step)];
        return child ? [child] : [];
      }
      if (def.type === 'array' && typeof step === 'number') return [def.element as z.ZodType];
      if (def.type === 'record') return [def.valueType as z.ZodType];
      return [];
    });
  }
  return [...new Set(current.flatMap((s) => (defOf(s).type === 'object' ? Object.keys(defOf(s).shape as object) : [])))];
}

/** Looks through the layers that wrap a schema without changing its shape; a union yields each option. */
function unwrap(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return unwrap(def.innerType as z.ZodType);
    case 'pipe':
      return unwrap(def.in as z.ZodType);
    case 'lazy':
      return unwrap((def.getter as () => z.ZodType)());
    case 'union':
      return (def.options as z.ZodType[]).flatMap(unwrap);
    default:
      return [schema];
  }
}

function defOf(schema: z.ZodType): { type: string } & Record<string, unknown> {
  return (schema as unknown as { _zod: { def: { type: string } & Record<string, unknown> } })._zod.def;
}

/** Forgets what loadConfig read, so the next load of a file reads it again (a connector reloading its config). */
export function forgetLoadedConfigs(): void {
  explorer.clearCaches();
}
