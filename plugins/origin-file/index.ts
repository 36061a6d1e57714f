// Built-in plugin: `file://DIR` services, static files from a folder (absolute, or relative to the config file).
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, defineOrigin, definePlugin, type ServiceSpec } from 'burrow';
import { FileOrigin } from './file-origin.ts';

/** Options written as a query on the service URL, e.g. `file:///srv/app?spa`. */
const QUERY_OPTIONS = ['spa'];
const URL_HINT = 'use an absolute directory, e.g. file:///srv/www, or one relative to the config file, e.g. file://./site';

export default definePlugin({
  id: 'origin-file',
  description: 'file:// services (static files)',
  origins: [
    defineOrigin({
      schemes: ['file'],
      examples: ['file:///dir'],
      parse(service, fail) {
        const dir = folderOf(service);
        if (dir === undefined) return fail(`${JSON.stringify(service.raw)} is not a valid file:// URL`, URL_HINT);
        const query = new URLSearchParams(/\?([^#]*)/.exec(service.raw)?.[1] ?? '');
        let spa = false;
        for (const [key, value] of query) {
          if (!QUERY_OPTIONS.includes(key)) fail(`"${service.raw}" has an unknown option "${key}"`, `the only option is ?spa (serve index.html for unknown paths)`);
          if (value !== '' && value !== 'true' && value !== 'false') fail(`"${service.raw}": spa=${value} is not true or false`, 'write ?spa or ?spa=true');
          spa = value !== 'false';
        }
        return { dir, spa };
      },
      create({ dir, spa }, { rule, configDir, configFile }) {
        const folder = path.resolve(configDir, dir);
        const fail = (problem: string, hint: string): never => {
          throw new ConfigError(problem, { file: configFile, keyPath: `ingress[${rule.index}].service`, hint });
        };
        let root: string;
        try {
          root = realpathSync(folder);
          if (!statSync(root).isDirectory()) fail(`${folder} is not a folder`, 'point file:// at the folder to serve');
        } catch (error) {
          if (error instanceof ConfigError) throw error;
          return fail(`the folder ${folder} cannot be served (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'create it, or fix the path (relative paths start at the config file\'s folder)');
        }
        return new FileOrigin({ root, spa });
      },
    }),
  ],
});

/** The folder a file:// service names: absolute, or relative to the config file (`file://./site`); undefined if it names none. */
function folderOf({ raw }: ServiceSpec): string | undefined {
  const text = raw.trim();
  if (!/^file:\/\//i.test(text)) return undefined;
  const relative = /^file:\/\/(\.\.?(?:\/[^?#]*)?)(?:[?#].*)?$/i.exec(text);
  try {
    // fileURLToPath rejects a host part, so "file://relative/dir" fails rather than silently meaning "/dir".
    return relative ? decodeURIComponent(relative[1]!) : fileURLToPath(text);
  } catch {
    return undefined;
  }
}
