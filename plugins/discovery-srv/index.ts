// Built-in plugin: the connector finds edges through SRV records (`discovery:`), nearest first.
import { definePlugin } from 'burrow';

export default definePlugin({
  id: 'discovery-srv',
  description: 'Edge addresses from _burrow._tcp SRV records (discovery:), ranked by round-trip time',
  provides: ['edge-discovery'],
  connector() {},
});
