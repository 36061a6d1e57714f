// The CLI's login to an edge zone, kept in `$BURROW_HOME/cert.pem` and one `<id>.json` per tunnel.
import path from 'node:path';
import { EdgeClient, burrowHome, type ZoneLogin } from 'burrow';
import { readOriginCert } from './cert-file.ts';
import { writeCredentialsFile } from './credentials-file.ts';

export function certPath(): string {
  return path.join(burrowHome(), 'cert.pem');
}

export const zoneLogin: ZoneLogin = {
  async apiClient() {
    const cert = await readOriginCert(certPath());
    return new EdgeClient(cert.edge.api, cert.apiToken);
  },
  async saveTunnelCredentials({ tunnel, secret }) {
    const file = path.join(burrowHome(), `${tunnel.id}.json`);
    await writeCredentialsFile(file, { TunnelID: tunnel.id, TunnelName: tunnel.name, TunnelSecret: secret, Zone: tunnel.zone });
    return file;
  },
};
