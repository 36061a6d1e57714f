// Who may call the edge API: the operator's admin token, or a zone token issued at login.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface Principal {
  readonly admin: boolean;
  /** Zones this caller may manage; every zone of the edge for the admin. */
  readonly zones: readonly string[];
}

const ZONE_TOKEN_PREFIX = 'bzt.';

export class ApiAuth {
  private constructor(
    private readonly adminToken: string,
    private readonly signingKey: Buffer,
    private readonly edgeZones: () => readonly string[],
  ) {}

  /**
   * The admin token comes from BURROW_EDGE_TOKEN, or is generated once into `<dataDir>/admin-token`.
   * Zone tokens are HMAC-signed, so they survive restarts without a token table.
   */
  static async load(dataDir: string, edgeZones: () => readonly string[], env = process.env): Promise<{ auth: ApiAuth; adminTokenFile?: string }> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const signingKey = Buffer.from(await readOrCreate(path.join(dataDir, 'api-signing.key'), () => randomBytes(32).toString('base64')), 'base64');
    if (env.BURROW_EDGE_TOKEN) return { auth: new ApiAuth(env.BURROW_EDGE_TOKEN, signingKey, edgeZones) };
    const adminTokenFile = path.join(dataDir, 'admin-token');
    const token = await readOrCreate(adminTokenFile, () => randomBytes(24).toString('base64url'));
    return { auth: new ApiAuth(token, signingKey, edgeZones), adminTokenFile };
  }

  /** Accepts `Authorization: Bearer <token>`. */
  authenticate(authorization: string | undefined): Principal | undefined {
    const token = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!token) return undefined;
    if (safeEqual(token, this.adminToken)) return { admin: true, zones: this.edgeZones() };
    if (!token.startsWith(ZONE_TOKEN_PREFIX)) return undefined;
    const [payload, signature] = token.slice(ZONE_TOKEN_PREFIX.length).split('.');
    if (!payload || !signature || !safeEqual(signature, this.sign(payload))) return undefined;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { zones: string[] };
    return { admin: false, zones: claims.zones.filter((z) => this.edgeZones().includes(z)) };
  }

  isAdminToken(token: string): boolean {
    return safeEqual(token, this.adminToken);
  }

  issueZoneToken(zones: readonly string[]): string {
    const payload = Buffer.from(JSON.stringify({ zones, iat: Date.now() })).toString('base64url');
    return `${ZONE_TOKEN_PREFIX}${payload}.${this.sign(payload)}`;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.signingKey).update(payload).digest('base64url');
  }
}

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
    const value = create();
    await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return value;
  }
}
