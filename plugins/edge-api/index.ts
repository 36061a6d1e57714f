// Built-in plugin: the edge API listener on edge.listen.api, and the router every plugin's `api.route` adds to.
import { ApiAuthToken, ApiRouterToken, definePlugin } from 'burrow';
import { ApiServer } from './server.ts';

export default definePlugin({
  id: 'edge-api',
  description: 'The edge API listener (login, management, metrics, pages)',
  provides: ['api'],
  async edge(api) {
    const server = new ApiServer(() => api.services.get(ApiAuthToken), api.log);
    api.services.provide(ApiRouterToken, server);
    await api.listen('api', server.server, api.settings.listen.api);
  },
});
