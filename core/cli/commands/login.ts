// `burrow login`: a zone certificate from the edge's origin CA; the private key is made here and stays here.
import type { Command } from 'commander';
import { EdgeClient } from '../../edge-client.ts';
import { action, certPath } from '../run.ts';

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description('get a certificate for a zone from the edge and store it in $BURROW_HOME/cert.pem')
    .requiredOption('--edge <url>', 'the edge API, e.g. http://127.0.0.1:7845')
    .option('--token <token>', 'the edge admin token (skips the approval page)')
    .option('--zone <zone>', 'which zone, when the edge serves several')
    .action(
      action(async (options: { edge: string; token?: string; zone?: string }) => {
        const { createKeyAndCsr } = await import('../../../plugins/origin-ca/ca.ts');
        const { writeOriginCert } = await import('../../../plugins/origin-ca/cert-file.ts');
        const info = await new EdgeClient(options.edge).request<{ zones: string[] }>('GET', '/v1/edge');
        const zones = options.zone ? [options.zone] : info.zones;
        if (zones.length !== 1) {
          throw Object.assign(new Error(`the edge serves ${zones.length ? zones.join(', ') : 'no zones'}`), { hint: 'pick one with --zone' });
        }
        if (!options.token) {
          throw Object.assign(new Error('login without --token needs the approval page, which this edge does not offer'), { hint: 'pass --token with the edge admin token' });
        }
        const { keyPem, csrPem } = await createKeyAndCsr({ zones });
        const answer = await new EdgeClient(options.edge, options.token).request<{
          certificate: string;
          ca: string;
          zones: string[];
          edge: { api: string; tunnel: string };
          apiToken: string;
        }>('POST', '/v1/login', { csr: csrPem, zone: zones[0] });
        const file = certPath();
        await writeOriginCert(file, { keyPem, certPem: answer.certificate, caPem: answer.ca, zones: answer.zones, edge: answer.edge, apiToken: answer.apiToken });
        process.stdout.write(`You have successfully logged in.\nCertificate for ${answer.zones.join(', ')} saved to ${file}\n`);
      }),
    );
}
