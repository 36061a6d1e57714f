// `burrow login`: a zone certificate from the edge's origin CA; the private key is made here and stays here.
// With --token the edge signs at once; without, the edge shows an approval page and this command waits for it.
import { BurrowError, EdgeApiError, EdgeClient, type CliPluginApi } from 'burrow';
import { certificateInfo, createKeyAndCsr } from './ca.ts';
import { readOriginCert, writeOriginCert } from './cert-file.ts';
import type { LoginResponse } from './service.ts';
import { certPath } from './zone-login.ts';

interface LoginOptions {
  edge?: string;
  token?: string;
  zone?: string;
  renew?: boolean;
}

interface LoginRequestAnswer {
  code: string;
  url: string;
  pollToken: string;
  expiresAt: string;
  intervalMs: number;
}

export function registerLoginCommand(api: CliPluginApi): void {
  api.program
    .command('login')
    .description('get a certificate for a zone from the edge and store it in $BURROW_HOME/cert.pem')
    .option('--edge <url>', 'the edge API, e.g. http://127.0.0.1:7845 (default: $BURROW_EDGE; with --renew, the edge in cert.pem)')
    .option('--token <token>', 'the edge admin token: sign at once instead of waiting for the approval page')
    .option('--zone <zone>', 'which zone, when the edge serves several')
    .option('--renew', 'replace cert.pem with a fresh key and certificate for the same zones, using its zone token')
    .addHelpText(
      'after',
      '\nWithout --token, login prints a URL on the edge API and waits until the operator signs in there with the\n' +
        'admin token and approves the zone. The private key is generated on this machine and never sent anywhere.',
    )
    .action(api.action(login));
}

async function login(options: LoginOptions): Promise<void> {
  const file = certPath();
  let answer: LoginResponse;
  let keyPem: string;

  if (options.renew) {
    const current = await readOriginCert(file);
    const generated = await createKeyAndCsr({ zones: current.zones });
    keyPem = generated.keyPem;
    // The zone token in cert.pem may sign for its own zones: renewal needs neither the admin nor the page.
    const client = new EdgeClient(options.edge ?? current.edge.api, options.token ?? current.apiToken);
    answer = await client.request<LoginResponse>('POST', '/v1/login', { csr: generated.csrPem, ...(current.zones.length === 1 ? { zone: current.zones[0] } : {}) });
  } else {
    const edge = options.edge ?? process.env.BURROW_EDGE;
    if (!edge) throw loginError('which edge? no --edge given and BURROW_EDGE is not set', 'pass --edge http://<edge api host>:7845');
    const info = await new EdgeClient(edge).request<{ zones: string[] }>('GET', '/v1/edge');
    const zones = options.zone ? [options.zone] : info.zones;
    if (zones.length !== 1) {
      throw loginError(`the edge serves ${info.zones.length ? info.zones.join(', ') : 'no zones'}`, info.zones.length ? 'pick one with --zone' : 'add a zone to edge.zones on the edge');
    }
    const generated = await createKeyAndCsr({ zones });
    keyPem = generated.keyPem;
    answer = options.token
      ? await new EdgeClient(edge, options.token).request<LoginResponse>('POST', '/v1/login', { csr: generated.csrPem, zone: zones[0] })
      : await waitForApproval(new EdgeClient(edge), generated.csrPem, zones[0]!);
  }

  await writeOriginCert(file, { keyPem, certPem: answer.certificate, caPem: answer.ca, zones: answer.zones, edge: answer.edge, apiToken: answer.apiToken });
  const { notAfter } = certificateInfo(answer.certificate);
  process.stdout.write(
    `You have successfully ${options.renew ? 'renewed your certificate' : 'logged in'}.\n` +
      `Certificate for ${answer.zones.join(', ')} saved to ${file} (valid until ${notAfter.toISOString()}; renew with \`burrow login --renew\`)\n`,
  );
}

/** Files a login request with the CSR, prints where to approve it, and polls until it is answered. */
async function waitForApproval(client: EdgeClient, csrPem: string, zone: string): Promise<LoginResponse> {
  let request: LoginRequestAnswer;
  try {
    request = await client.request<LoginRequestAnswer>('POST', '/v1/login/requests', { csr: csrPem, zone });
  } catch (error) {
    if (error instanceof EdgeApiError && error.status === 404) {
      throw loginError('this edge has no login approval page', 'pass --token with the edge admin token');
    }
    throw error;
  }
  process.stdout.write(
    `To approve this login, open this page and sign in with the edge admin token:\n\n    ${request.url}\n\n` +
      `Check that it shows the code ${request.code}. Waiting for approval (the request expires at ${request.expiresAt})...\n`,
  );
  const deadline = new Date(request.expiresAt).getTime() + 60_000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, request.intervalMs));
    let state: { status: string; login?: LoginResponse };
    try {
      state = await client.request<{ status: string; login?: LoginResponse }>('GET', `/v1/login/requests/${encodeURIComponent(request.pollToken)}`);
    } catch (error) {
      // The edge restarting or a blip on the network must not end a login the operator may be approving.
      if (error instanceof EdgeApiError && (error.status === 0 || error.status >= 500)) continue;
      if (error instanceof EdgeApiError && error.status === 404) throw loginError('the login request is gone from the edge (it expired, or the edge restarted)', 'run `burrow login` again');
      throw error;
    }
    if (state.status === 'approved' && state.login) return state.login;
    if (state.status === 'denied') throw loginError(`login ${request.code} was denied on the approval page`, 'ask the edge operator, then run `burrow login` again');
    if (state.status === 'expired') throw loginError(`login ${request.code} expired before anyone approved it`, 'run `burrow login` again and approve it within the time shown');
  }
  throw loginError(`login ${request.code} was not answered in time`, 'run `burrow login` again');
}

function loginError(message: string, hint: string): BurrowError {
  return new BurrowError('BURROW_ERR_LOGIN', `${message}. Fix: ${hint}`, { hint });
}
