// Built-in plugin: the connector reloads its config file when it changes on disk or on SIGHUP (see Connector.reload).
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { definePlugin } from 'burrow';

const options = z.strictObject({
  /** Watch the config file (its folder, so editors that replace the file are seen too). SIGHUP works either way. */
  watch: z.boolean().default(true),
  /** Changes closer together than this are read once. */
  debounceMs: z.number().int().min(0).max(10_000).default(200),
});

export default definePlugin({
  id: 'config-reload',
  description: 'reload the connector config (ingress, origins, originRequest, rule middleware) on file change and SIGHUP',
  options,

  connector(api, { watch: watching, debounceMs }) {
    const file = api.configFile;
    if (!api.reloadable || !file) return;
    let last: string | undefined;
    // The content the connector started with, so saving the same text again does not reload.
    void readFile(file, 'utf8').then((text) => (last ??= text), () => undefined);

    let timer: NodeJS.Timeout | undefined;
    const reloadIfChanged = async (reason: string) => {
      const text = await readFile(file, 'utf8').catch(() => undefined);
      // A file being replaced can be missing for a moment; the next event reads it.
      if (text === undefined || (reason === 'file changed' && text === last)) return;
      last = text;
      api.log.info({ file, reason }, 'reloading the config');
      await api.reload();
    };
    const schedule = (reason: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => void reloadIfChanged(reason), debounceMs);
      timer.unref();
    };

    const onHangup = () => schedule('SIGHUP');
    process.on('SIGHUP', onHangup);
    let watcher: FSWatcher | undefined;
    if (watching) {
      const name = path.basename(file);
      try {
        watcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
          if (changed === null || changed.toString() === name) schedule('file changed');
        });
        watcher.on('error', (error) => api.log.warn({ file, err: error.message }, 'stopped watching the config file; SIGHUP still reloads'));
      } catch (error) {
        api.log.warn({ file, err: (error as Error).message }, 'cannot watch the config file; SIGHUP still reloads');
      }
    }
    return () => {
      clearTimeout(timer);
      process.off('SIGHUP', onHangup);
      watcher?.close();
    };
  },
});
