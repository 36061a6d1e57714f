// `burrow tunnel token NAME`: packs the tunnel's secret and a certificate bound to it into one string for `tunnel run --token`.
import path from 'node:path';
import { BurrowError, burrowHome, type CliPluginApi, type TunnelRecord } from 'burrow';
import { createKeyAndCsr } from './ca.ts';
import { readCredentialsFile } from './credentials-file.ts';
import type { TunnelCertificate } from './service.ts';
import { encodeTunnelToken } from './tunnel-token.ts';
import { zoneLogin } from './zone-login.ts';

export function registerTokenCommand(api: CliPluginApi): void {
  api
    .command('tunnel')
    .command('token <name>')
    .description('print a token that runs the tunnel anywhere with `burrow tunnel run --token` (keep it secret)')
    .addHelpText(
      'after',
      '\nThe token holds the tunnel secret and a client certificate (with its key) that can run only this tunnel.\n' +
        'Whoever has it can serve the tunnel\'s hostnames until the certificate expires or the tunnel is deleted.',
    )
    .action(
      api.action(async (name: string) => {
        const client = await zoneLogin.apiClient();
        const { tunnel: record } = await client.request<{ tunnel: TunnelRecord }>('GET', `/v1/tunnels/${encodeURIComponent(name)}`);
        const file = path.join(burrowHome(), `${record.id}.json`);
        const credentials = await readCredentialsFile(file).catch((error: Error) => {
          throw new BurrowError('BURROW_ERR_TOKEN', `${error.message.split('. Fix:')[0]}. Fix: the tunnel secret exists only in the credentials file \`burrow tunnel create\` wrote; run this where that file is`);
        });
        const { keyPem, csrPem } = await createKeyAndCsr({ zones: [record.zone] });
        const cert = await client.request<TunnelCertificate>('POST', `/v1/tunnels/${encodeURIComponent(record.id)}/certificate`, { csr: csrPem });
        const token = encodeTunnelToken({
          zone: record.zone,
          tunnelId: record.id,
          tunnelName: record.name,
          secret: credentials.TunnelSecret,
          edge: cert.edge.tunnel,
          caPem: cert.ca,
          certPem: cert.certificate,
          keyPem,
        });
        process.stdout.write(`${token}\n`);
      }),
    );
}
