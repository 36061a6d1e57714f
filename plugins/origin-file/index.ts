// Built-in plugin: `file://DIR` services, static files from a folder (absolute, or relative to the config file).
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { definePlugin } from '../../core/plugin.ts';
import { ConfigError } from '../../core/kernel/errors.ts';
import { FileOrigin } from './file-origin.ts';

/** Options written as a query on the service URL, e.g. `file:///srv/app?spa`. */
const QUERY_OPTIONS = ['spa'];

export default definePlugin({
  id: 'origin-file',
  description: 'file:// services (static files)',
  connector(api) {
    api.hooks.resolveOrigin.tap('origin-file', (service, { rule, configDir, configFile }) => {
      if (service.kind !== 'file') return undefined;
      const keyPath = `ingress[${rule.index}].service`;
      const fail = (problem: string, hint: string): never => {
        // Expected: reported as the config error it is, not as a plugin crash.
        throw Object.assign(new ConfigError(problem, { file: configFile, keyPath, hint }), { expected: true });
      };
      const query = new URLSearchParams(/\?([^#]*)/.exec(service.raw)?.[1] ?? '');
      let spa = false;
      for (const [key, value] of query) {
        if (!QUERY_OPTIONS.includes(key)) fail(`"${service.raw}" has an unknown option "${key}"`, `the only option is ?spa (serve index.html for unknown paths)`);
        if (value !== '' && value !== 'true' && value !== 'false') fail(`"${service.raw}": spa=${value} is not true or false`, 'write ?spa or ?spa=true');
        spa = value !== 'false';
      }
      const dir = path.resolve(configDir, service.dir);
      let root: string;
      try {
        root = realpathSync(dir);
        if (!statSync(root).isDirectory()) fail(`${dir} is not a folder`, 'point file:// at the folder to serve');
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        return fail(`the folder ${dir} cannot be served (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'create it, or fix the path (relative paths start at the config file\'s folder)');
      }
      return new FileOrigin({ root, spa });
    });
  },
});
