// Built-in plugin: edge API tokens: the admin token (BURROW_EDGE_TOKEN or <dataDir>/admin-token) and HMAC-signed zone tokens.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiAuthToken, TrustStoreToken, definePlugin, type ApiAuth, type Principal } from 'burrow';

const ZONE_TOKEN_PREFIX = 'bzt.';

export default definePlugin({
  id: 'api-tokens',
  description: 'The edge admin token and the zone tokens issued at login',
  provides: ['token-signer'],
  async edge(api) {
    const { dataDir } = api.settings;
    const signingKey = await api.services.get(TrustStoreToken).tokenSigningKey();
    // An empty BURROW_EDGE_TOKEN means none (`BURROW_EDGE_TOKEN= npm start`), not an empty admin token.
    const fromEnv = process.env.BURROW_EDGE_TOKEN || undefined;
    const adminTokenFile = fromEnv ? undefined : path.join(dataDir, 'admin-token');
    const adminToken = fromEnv ?? (await readOrCreate(adminTokenFile!, () => randomBytes(24).toString('base64url')));
    const sign = (payload: string) => createHmac('sha256', signingKey).update(payload).digest('base64url');
    const edgeZones = () => api.settings.zones;

    const auth: ApiAuth = {
      adminTokenFile,
      authenticate(authorization): Principal | undefined {
        const token = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
        if (!token) return undefined;
        if (safeEqual(token, adminToken)) return { admin: true, zones: edgeZones() };
        if (!token.startsWith(ZONE_TOKEN_PREFIX)) return undefined;
        const [payload, signature] = token.slice(ZONE_TOKEN_PREFIX.length).split('.');
        if (!payload || !signature || !safeEqual(signature, sign(payload))) return undefined;
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { zones: string[] };
        return { admin: false, zones: claims.zones.filter((zone) => edgeZones().includes(zone)) };
      },
      issueZoneToken(zones) {
        const payload = Buffer.from(JSON.stringify({ zones, iat: Date.now() })).toString('base64url');
        return `${ZONE_TOKEN_PREFIX}${payload}.${sign(payload)}`;
      },
    };
    api.services.provide(ApiAuthToken, auth);
  },
});

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readOrCreate(file: string, create: () => string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const value = create();
    await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return value;
  }
}
