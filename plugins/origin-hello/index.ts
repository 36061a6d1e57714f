// Built-in plugin: `hello_world`, a page showing the request as the origin received it (HTML, or JSON on request).
import { defineOrigin, definePlugin } from 'burrow';
import { helloOrigin } from './hello-origin.ts';

export default definePlugin({
  id: 'origin-hello',
  description: 'hello_world service: a built-in page echoing the request',
  origins: [defineOrigin({ schemes: ['hello_world'], examples: ['hello_world'], create: () => helloOrigin })],
});
