// Built-in plugin: `hello_world`, a page showing the request as the origin received it (HTML, or JSON on request).
import { definePlugin } from '../../core/plugin.ts';
import { helloOrigin } from './hello-origin.ts';

export default definePlugin({
  id: 'origin-hello',
  description: 'hello_world service: a built-in page echoing the request',
  connector(api) {
    api.hooks.resolveOrigin.tap('origin-hello', (service) => {
      if (service.kind !== 'builtin' || service.scheme !== 'hello_world') return undefined;
      return helloOrigin;
    });
  },
});
