// Built-in plugin: the commands that run Burrow's two runtimes, `burrow edge` and `burrow tunnel run`, and the
// ingress checks `burrow tunnel ingress validate|rule`.
import { definePlugin } from 'burrow';
import { registerEdgeCommand } from './edge-command.ts';
import { registerTunnelCommands } from './tunnel-commands.ts';

export default definePlugin({
  id: 'run-commands',
  description: '`burrow edge`, `burrow tunnel run` and `burrow tunnel ingress validate|rule`',
  cli(api) {
    registerEdgeCommand(api);
    registerTunnelCommands(api);
  },
});
