// `burrow network status` and `burrow tunnel route explain`: the network's PoPs, links and routes, from the edge API.
import type { CliPluginApi } from 'burrow';

export function registerStatusCommands(_api: CliPluginApi): void {}
