// Built-in plugin: this PoP's place in a network of PoPs (edge.network): links to the other PoPs, measured
// latencies, smart routing of requests for tunnels served elsewhere, and the `burrow network` commands.
import { definePlugin } from 'burrow';
import { registerCaCommand } from './ca-command.ts';
import { registerDevCommand } from './dev/command.ts';
import { registerStatusCommands } from './status-command.ts';

export default definePlugin({
  id: 'network',
  description: 'PoP-to-PoP links, latency-measured smart routing and `burrow network` (active with edge.network)',
  requires: ['origin-ca'],
  async edge(api) {
    if (!api.settings.network) return;
  },
  cli(api) {
    registerCaCommand(api);
    registerStatusCommands(api);
    registerDevCommand(api);
  },
});
