// Burrow's version, sent to the edge at registration and printed by `burrow --version`.
import { createRequire } from 'node:module';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
