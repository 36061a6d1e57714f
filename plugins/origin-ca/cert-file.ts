// Reads and writes the connector's cert.pem: its key, zone certificate, the edge CA and how to reach the edge.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BurrowError, writeFileAtomic } from 'burrow';
import type { EdgeEndpoints } from './service.ts';

export interface OriginCert {
  keyPem: string;
  certPem: string;
  caPem: string;
  zones: string[];
  edge: EdgeEndpoints;
  apiToken: string;
}

const LOGIN_HINT = 'run `burrow login --edge URL` to get a new one';
const EDGE_LABEL = 'BURROW EDGE';

/** A cert.pem problem the user fixes by logging in again; `hint` says how. */
export class OriginCertError extends BurrowError {
  readonly file: string;
  declare readonly hint: string;

  constructor(file: string, problem: string, hint: string = LOGIN_HINT) {
    super('BURROW_ERR_ORIGIN_CERT', `${file}: ${problem}; ${hint}`, { hint });
    this.file = file;
  }
}

interface PemBlock {
  label: string;
  body: string;
  text: string;
}

interface EdgeBlock {
  api: string;
  tunnel: string;
  apiToken: string;
  zones: string[];
  discovery?: { domain: string; resolver?: string };
}

export function encodeOriginCert(c: OriginCert): string {
  const edge: EdgeBlock = { api: c.edge.api, tunnel: c.edge.tunnel, apiToken: c.apiToken, zones: c.zones, ...(c.edge.discovery ? { discovery: c.edge.discovery } : {}) };
  return [
    onlyBlock(c.keyPem, 'PRIVATE KEY', 'keyPem'),
    onlyBlock(c.certPem, 'CERTIFICATE', 'certPem'),
    onlyBlock(c.caPem, 'CERTIFICATE', 'caPem'),
    pem(EDGE_LABEL, Buffer.from(JSON.stringify(edge), 'utf8').toString('base64')),
  ].join('');
}

export function decodeOriginCert(text: string, file: string): OriginCert {
  const blocks = parsePemBlocks(text);
  const keys = blocks.filter((b) => b.label === 'PRIVATE KEY');
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  const edges = blocks.filter((b) => b.label === EDGE_LABEL);

  if (keys.length === 0) throw new OriginCertError(file, 'the PRIVATE KEY block (the connector key) is missing');
  if (keys.length > 1) throw new OriginCertError(file, `expected one PRIVATE KEY block, found ${keys.length}`);
  // Certificates are told apart by position: the zone certificate is written before the edge CA.
  if (certs.length === 0) throw new OriginCertError(file, 'the CERTIFICATE blocks (zone certificate and edge CA) are missing');
  if (certs.length === 1) throw new OriginCertError(file, 'the second CERTIFICATE block (the edge CA) is missing');
  if (certs.length > 2) throw new OriginCertError(file, `expected two CERTIFICATE blocks, found ${certs.length}`);
  if (edges.length === 0) throw new OriginCertError(file, `the ${EDGE_LABEL} block (edge address and API token) is missing`);
  if (edges.length > 1) throw new OriginCertError(file, `expected one ${EDGE_LABEL} block, found ${edges.length}`);

  const [key, cert, ca, edgeBlock] = [keys[0]!, certs[0]!, certs[1]!, edges[0]!];
  try {
    createPrivateKey(key.text);
  } catch (err) {
    throw new OriginCertError(file, `the PRIVATE KEY block is broken (${errorMessage(err)})`);
  }
  checkCertificate(file, cert, 'first CERTIFICATE block (the zone certificate)');
  checkCertificate(file, ca, 'second CERTIFICATE block (the edge CA)');
  const edge = parseEdgeBlock(file, edgeBlock);

  return {
    keyPem: key.text,
    certPem: cert.text,
    caPem: ca.text,
    zones: edge.zones,
    edge: { api: edge.api, tunnel: edge.tunnel, ...(edge.discovery ? { discovery: edge.discovery } : {}) },
    apiToken: edge.apiToken,
  };
}

export async function readOriginCert(file: string): Promise<OriginCert> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new OriginCertError(file, 'origin certificate not found', 'run `burrow login --edge URL` to create it');
    }
    throw new OriginCertError(file, `cannot read the origin certificate (${errorMessage(err)})`, 'check its permissions or ' + LOGIN_HINT);
  }
  return decodeOriginCert(text, file);
}

export async function writeOriginCert(file: string, c: OriginCert): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // 0600 from the start: the file holds a private key and an API token.
  await writeFileAtomic(file, encodeOriginCert(c), 0o600);
}

function parsePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (const match of text.matchAll(re)) {
    const label = match[1]!;
    const body = match[2]!.replace(/\s+/g, '');
    blocks.push({ label, body, text: pem(label, body) });
  }
  return blocks;
}

function onlyBlock(input: string, label: string, field: string): string {
  const blocks = parsePemBlocks(input);
  if (blocks.length !== 1 || blocks[0]!.label !== label) {
    throw new BurrowError('BURROW_ERR_ORIGIN_CERT', `${field} must hold exactly one ${label} PEM block`);
  }
  return blocks[0]!.text;
}

function checkCertificate(file: string, block: PemBlock, what: string): void {
  try {
    new X509Certificate(block.text);
  } catch (err) {
    throw new OriginCertError(file, `the ${what} is broken (${errorMessage(err)})`);
  }
}

function parseEdgeBlock(file: string, block: PemBlock): EdgeBlock {
  const broken = (why: string) => new OriginCertError(file, `the ${EDGE_LABEL} block is broken (${why})`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(block.body)) throw broken('not base64');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(block.body, 'base64').toString('utf8'));
  } catch {
    throw broken('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw broken('not a JSON object');
  const v = value as Record<string, unknown>;
  for (const field of ['api', 'tunnel', 'apiToken'] as const) {
    if (typeof v[field] !== 'string' || v[field] === '') throw broken(`"${field}" must be a non-empty string`);
  }
  if (!Array.isArray(v.zones) || v.zones.length === 0 || !v.zones.every((z) => typeof z === 'string' && z !== '')) {
    throw broken('"zones" must be a non-empty list of domain names');
  }
  let discovery: EdgeBlock['discovery'];
  if (v.discovery !== undefined) {
    const d = v.discovery as Record<string, unknown> | null;
    if (typeof d !== 'object' || d === null || typeof d.domain !== 'string' || d.domain === '' || (d.resolver !== undefined && typeof d.resolver !== 'string')) {
      throw broken('"discovery" must be { "domain": "edges.example.test", "resolver"?: "HOST:PORT" }');
    }
    discovery = { domain: d.domain, ...(typeof d.resolver === 'string' ? { resolver: d.resolver } : {}) };
  }
  return { api: v.api as string, tunnel: v.tunnel as string, apiToken: v.apiToken as string, zones: v.zones as string[], ...(discovery ? { discovery } : {}) };
}

function pem(label: string, base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
