// `burrow network dev`: a whole network of PoPs on one machine, with emulated WAN delays between them.
import type { CliPluginApi } from 'burrow';

export function registerDevCommand(_api: CliPluginApi): void {}
