// Runs Debian's `dig` against a DNS server on loopback and reads what a user reads in its output.
import { execFile } from 'node:child_process';
import { splitHostPort } from '../../core/transport/host.ts';
import { requireProgram } from './system.ts';

export interface DigAnswer {
  /** NOERROR, NXDOMAIN, REFUSED, FORMERR, BADVERS ... */
  status: string;
  flags: string[];
  /** Records of the ANSWER SECTION as `name ttl class type data`, split. */
  answers: Array<{ name: string; ttl: number; type: string; data: string }>;
  authority: Array<{ name: string; type: string; data: string }>;
  additional: Array<{ name: string; type: string; data: string }>;
  /** Whether the reply carried an OPT pseudo-section (EDNS). */
  edns: boolean;
  raw: string;
}

/** `dig @host -p port [args...] name type`, with no recursion and a short timeout. */
export function dig(server: string, name: string, type = 'A', args: string[] = []): Promise<DigAnswer> {
  const { host, port } = splitHostPort(server);
  return new Promise((resolve, reject) => {
    execFile(requireProgram('dig', 'dnsutils'), [`@${host}`, '-p', String(port), '+norec', '+time=2', '+tries=1', ...args, name, type], { timeout: 10_000 }, (error, stdout) => {
      if (error && !stdout) return reject(error);
      resolve(parseDig(stdout));
    });
  });
}

function parseDig(raw: string): DigAnswer {
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([a-z ]+)[;:]/.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const section = (title: string) => {
    const start = raw.indexOf(`;; ${title} SECTION:`);
    if (start < 0) return [];
    const body = raw.slice(start).split('\n').slice(1);
    const lines: string[] = [];
    for (const line of body) {
      if (!line.trim()) break;
      lines.push(line);
    }
    return lines.map((line) => {
      const [name = '', ttl = '0', , type = '', ...data] = line.split(/\s+/);
      return { name, ttl: Number(ttl), type, data: data.join(' ') };
    });
  };
  return { status, flags, answers: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL'), edns: raw.includes('OPT PSEUDOSECTION'), raw };
}
