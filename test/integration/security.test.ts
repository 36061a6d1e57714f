// Refusals at the tunnel port and the edge API: each says why, and none disturbs the tunnels that are running.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { EdgeApiError, EdgeClient } from '../../core/edge-client.ts';
import { rejectionOf } from '../helpers/errors.ts';
import { BurrowError } from '../../core/kernel/errors.ts';
import { createCertificateAuthority, createKeyAndCsr, signZoneCertificate } from '../../plugins/origin-ca/ca.ts';
import { createTunnel, eventually, removeDir, startConnector, startOrigin, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';
import { loggedConnector, startLoggedEdge, tlsAttempt } from '../helpers/identity.ts';

let edge: Awaited<ReturnType<typeof startLoggedEdge>>;
let origin: TestOrigin;
let healthy: TunnelCredentials & { apiToken: string };
let healthyConnector: Connector;
let healthyConnections: string[];
const cleanup: Array<() => Promise<unknown> | unknown> = [];

before(async () => {
  edge = await startLoggedEdge({ zones: ['example.test', 'other.test'] });
  origin = await startOrigin((_req, res) => res.end('healthy'));
  healthy = await createTunnel(edge, 'healthy', ['healthy.example.test']);
  healthyConnector = await startConnector(healthy, { ingress: [{ service: origin.url }] });
  await eventually(() => edge.edge.connections.forTunnel(healthy.tunnelId).length === 2, 10_000, 'both healthy connections');
  healthyConnections = connectionIds(healthy.tunnelId);
});

after(async () => {
  await stopAll(...cleanup, () => healthyConnector?.stop(0), () => edge?.stop(), () => origin?.close(), () => removeDir(edge.dataDir));
});

function connectionIds(tunnelId: string): string[] {
  return edge.edge.connections
    .forTunnel(tunnelId)
    .map((c) => c.id)
    .sort();
}

/** The other tunnel still serves, over the very same connections it had before the refusal. */
async function assertHealthyUntouched(): Promise<void> {
  const response = await visit(edge.url, '/', { host: 'healthy.example.test' });
  assert.equal(response.status, 200);
  assert.equal(response.text, 'healthy');
  assert.deepEqual(connectionIds(healthy.tunnelId), healthyConnections, 'the healthy tunnel kept its connections');
}

function refusedRegistrations(tunnelId: string): Array<{ reason: string }> {
  return edge.lines.filter((l) => l.msg === 'registration refused' && l.tunnel === tunnelId) as unknown as Array<{ reason: string }>;
}

const apiRefusal = (promise: Promise<unknown>): Promise<EdgeApiError> => rejectionOf(promise, EdgeApiError);

describe('tunnel port: mutual TLS', () => {
  it('a connector presenting its zone certificate is accepted (the baseline for the refusals below)', async () => {
    const result = await tlsAttempt(edge.edge.addresses!.tunnel, healthy.tls);
    assert.equal(result.error, undefined);
    assert.equal(result.http2, true);
  });

  it('refuses a TLS connection without a client certificate', async () => {
    const before = edge.lines.filter((l) => l.msg === 'connector TLS handshake refused').length;
    const result = await tlsAttempt(edge.edge.addresses!.tunnel, { caPem: healthy.tls.caPem });
    assert.equal(result.http2, false);
    assert.match(String(result.error?.message), /certificate required/i);
    await eventually(() => edge.lines.filter((l) => l.msg === 'connector TLS handshake refused').length > before, 5_000, 'the edge logging the refusal');
    await assertHealthyUntouched();
  });

  it('refuses a client certificate issued by another CA, even for the right zone', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'Someone else' });
    const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const forged = await signZoneCertificate(otherCa, csrPem, { zones: ['example.test'] });
    const before = edge.lines.filter((l) => l.authorizationError).length;
    const result = await tlsAttempt(edge.edge.addresses!.tunnel, { caPem: healthy.tls.caPem, certPem: forged.certPem, keyPem });
    assert.equal(result.http2, false, 'the edge hung up instead of starting HTTP/2');
    assert.ok(result.error);
    // Node ends such a handshake without an alert, so the reason is in the edge's log.
    await eventually(() => edge.lines.filter((l) => l.authorizationError).length > before, 5_000, 'the edge logging why');
    const logged = edge.lines.filter((l) => l.authorizationError).at(-1)!;
    assert.equal(logged.msg, 'connector TLS handshake refused');
    assert.match(String(logged.authorizationError), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    await assertHealthyUntouched();
  });
});

describe('connector: TLS refusals that retrying cannot cure', () => {
  it('a connector whose client certificate is from another CA stops with the reason instead of retrying forever', async () => {
    const victim = await createTunnel(edge, 'foreign-client', ['foreign-client.example.test']);
    const otherCa = await createCertificateAuthority({ commonName: 'Another edge' });
    const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const forged = await signZoneCertificate(otherCa, csrPem, { zones: ['example.test'] });
    const { connector, lines } = loggedConnector({ ...victim, tls: { caPem: victim.tls.caPem, certPem: forged.certPem, keyPem } });
    cleanup.push(() => connector.stop(0));
    const error = await rejectionOf(connector.start(), BurrowError);
    assert.equal(error.code, 'BURROW_ERR_REGISTRATION_REFUSED');
    assert.match(error.message, /refused this connector's client certificate in the TLS handshake.*Fix: run `burrow login` against this edge again/);
    assert.ok(lines.some((l) => l.msg === 'every edge refuses the TLS handshake the same way; the connector stops instead of retrying'));
    assert.equal(edge.edge.connections.forTunnel(victim.tunnelId).length, 0);
    await connector.stop(0);
    await assertHealthyUntouched();
  });

  it("a connector that cannot verify the edge's certificate (cert.pem holds another CA) stops with the reason", async () => {
    const victim = await createTunnel(edge, 'foreign-ca', ['foreign-ca.example.test']);
    const otherCa = await createCertificateAuthority({ commonName: 'Another edge' });
    const { connector } = loggedConnector({ ...victim, tls: { ...victim.tls, caPem: otherCa.certPem } });
    cleanup.push(() => connector.stop(0));
    const error = await rejectionOf(connector.start(), BurrowError);
    assert.equal(error.code, 'BURROW_ERR_EDGE_CERT');
    assert.match(error.message, /cannot verify the certificate of the edge at .*Fix: check that cert\.pem/);
    await connector.stop(0);
    await assertHealthyUntouched();
  });
});

describe('tunnel port: registration', () => {
  it('right certificate, wrong secret: refused for good, and the connector stops instead of retrying', async () => {
    const victim = await createTunnel(edge, 'victim', ['victim.example.test']);
    const { connector, lines } = loggedConnector({ ...victim, tunnelSecret: Buffer.alloc(32, 7).toString('base64') });
    cleanup.push(() => connector.stop(0));
    await assert.rejects(connector.start(), /unknown tunnel or wrong tunnel secret; check the credentials file or tunnel token/);
    const refusals = lines.filter((l) => l.msg === 'registration refused for good; this connection will not retry');
    assert.equal(refusals.length, 2, 'each of the 2 connections tried once');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(refusedRegistrations(victim.tunnelId).length, 2, 'no attempt after the refusal');
    assert.equal(edge.edge.connections.forTunnel(victim.tunnelId).length, 0);
    assert.equal((await visit(edge.url, '/', { host: 'victim.example.test' })).status, 530, 'nobody serves the tunnel');
    await connector.stop(0);
    await assertHealthyUntouched();
  });

  it("tunnel A's credentials cannot register as tunnel B", async () => {
    const a = await createTunnel(edge, 'tunnel-a', ['a.example.test']);
    const b = await createTunnel(edge, 'tunnel-b', ['b.example.test']);
    const { connector, lines } = loggedConnector({ ...a, tunnelId: b.tunnelId });
    cleanup.push(() => connector.stop(0));
    await assert.rejects(connector.start(), /unknown tunnel or wrong tunnel secret/);
    assert.match(refusedRegistrations(b.tunnelId)[0]!.reason, /unknown tunnel or wrong tunnel secret/);
    assert.ok(lines.some((l) => l.msg === 'registration refused for good; this connection will not retry'), 'the connector reporting it');
    assert.equal(edge.edge.connections.forTunnel(b.tunnelId).length, 0);
    assert.equal((await visit(edge.url, '/', { host: 'b.example.test' })).status, 530);
    await connector.stop(0);
    await assertHealthyUntouched();
  });

  it('a certificate bound to tunnel A cannot run tunnel B, even with B\'s secret', async () => {
    const a = await createTunnel(edge, 'bound-a', []);
    const b = await createTunnel(edge, 'bound-b', ['bound-b.example.test']);
    const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const bound = await new EdgeClient(edge.api, a.apiToken).request<{ certificate: string }>('POST', `/v1/tunnels/${a.tunnelId}/certificate`, { csr: csrPem });
    await assert.rejects(
      startConnector({ ...b, tls: { caPem: b.tls.caPem, certPem: bound.certificate, keyPem } }, { ingress: [{ service: 'http_status:204' }] }),
      new RegExp(`may only run tunnel ${a.tunnelId}, not tunnel bound-b`),
    );
    assert.equal(edge.edge.connections.forTunnel(b.tunnelId).length, 0);
    await assertHealthyUntouched();
  });

  it('a certificate for another zone cannot run a tunnel of this zone', async () => {
    const target = await createTunnel(edge, 'zoned', ['zoned.example.test']);
    const outsider = await createTunnel(edge, 'outsider', [], 'other.test');
    await assert.rejects(
      startConnector({ ...target, tls: outsider.tls }, { ingress: [{ service: 'http_status:204' }] }),
      /the client certificate is for other\.test, but tunnel zoned belongs to example\.test/,
    );
    assert.equal(edge.edge.connections.forTunnel(target.tunnelId).length, 0);
    await assertHealthyUntouched();
  });

  it('a hostname outside the zone cannot be routed to a tunnel', async () => {
    const client = new EdgeClient(edge.api, healthy.apiToken);
    const error = await apiRefusal(client.request('PUT', '/v1/routes/app.other.test', { tunnel: 'healthy' }));
    assert.equal(error.status, 400);
    assert.match(error.message, /app\.other\.test is outside the zone example\.test of tunnel healthy/);
    // Not even the admin token can put a hostname of one zone on a tunnel of another.
    const adminError = await apiRefusal(edge.admin.request('PUT', '/v1/routes/evil-example.test', { tunnel: 'healthy' }));
    assert.equal(adminError.status, 400);
    assert.equal((await visit(edge.url, '/', { host: 'app.other.test' })).status, 404);
    await assertHealthyUntouched();
  });

  it("a deleted tunnel's connector is cut off and cannot come back", async () => {
    const doomed = await createTunnel(edge, 'doomed', ['doomed.example.test']);
    const { connector, lines } = loggedConnector(doomed);
    cleanup.push(() => connector.stop(0));
    await connector.start();
    assert.equal((await visit(edge.url, '/', { host: 'doomed.example.test' })).status, 204);

    const deleted = await edge.admin.request<{ disconnected: number }>('DELETE', '/v1/tunnels/doomed?force=true');
    assert.equal(deleted.disconnected, 2);
    await eventually(() => connector.connections.length === 0, 10_000, 'the connector losing its connections');
    // It tries to come back, and is refused each time.
    await eventually(() => refusedRegistrations(doomed.tunnelId).length >= 2, 15_000, 'refused attempts to reconnect');
    assert.ok(lines.some((l) => l.msg === 'connection lost; reconnecting'));
    assert.equal(edge.edge.connections.forTunnel(doomed.tunnelId).length, 0);
    assert.equal(connector.connections.length, 0);
    assert.equal((await visit(edge.url, '/', { host: 'doomed.example.test' })).status, 404, 'its route is gone');
    await connector.stop(0);
    await assertHealthyUntouched();
  });
});

describe('edge API authentication', () => {
  it('refuses the management API without a token (401) and with a forged one (401)', async () => {
    for (const token of [undefined, 'bzt.e30.forged', 'not-the-admin-token']) {
      const error = await apiRefusal(new EdgeClient(edge.api, token).request('GET', '/v1/tunnels'));
      assert.equal(error.status, 401);
      assert.match(error.message, /missing or invalid API token/);
    }
    const create = await apiRefusal(new EdgeClient(edge.api).request('POST', '/v1/tunnels', { name: 'sneaky' }));
    assert.equal(create.status, 401);
    const del = await apiRefusal(new EdgeClient(edge.api).request('DELETE', '/v1/tunnels/healthy?force=true'));
    assert.equal(del.status, 401);
    await assertHealthyUntouched();
  });

  it('refuses to sign a certificate without a token, and a zone token only for its own zone', async () => {
    const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
    const anonymous = await apiRefusal(new EdgeClient(edge.api).request('POST', '/v1/login', { csr: csrPem, zone: 'example.test' }));
    assert.equal(anonymous.status, 401);
    const wrongZone = await apiRefusal(new EdgeClient(edge.api, healthy.apiToken).request('POST', '/v1/login', { csr: csrPem, zone: 'other.test' }));
    assert.equal(wrongZone.status, 403);
    assert.match(wrongZone.message, /may not log in to other\.test/);
    // A zone token never sees or touches another zone's tunnels.
    const outsider = await createTunnel(edge, 'outsider-list', [], 'other.test');
    const { tunnels } = await new EdgeClient(edge.api, outsider.apiToken).request<{ tunnels: Array<{ name: string }> }>('GET', '/v1/tunnels');
    assert.deepEqual(tunnels.map((t) => t.name).sort(), ['outsider', 'outsider-list']);
    const hidden = await apiRefusal(new EdgeClient(edge.api, outsider.apiToken).request('DELETE', '/v1/tunnels/healthy?force=true'));
    assert.equal(hidden.status, 404);
    await assertHealthyUntouched();
  });
});
