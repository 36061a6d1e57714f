// On a network, the access line of the PoP a visitor landed at names the PoPs the request crossed, as the
// connector's line does.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Connector } from '../../../core/connector/connector.ts';
import { EdgeClient } from '../../../core/edge-client.ts';
import { startDevNetwork, type DevNetwork } from '../../../plugins/network/dev/network.ts';
import { createTunnel, eventually, startOrigin, type TestEdge, type TestOrigin } from '../../helpers/harness.ts';
import { stopAll, visit } from '../../helpers/http.ts';
import { captureLogger, loggedConnector, type LogLine } from '../../helpers/identity.ts';

describe('access-log on a network of PoPs', () => {
  let net: DevNetwork | undefined;
  let origin: TestOrigin | undefined;
  let connector: Connector | undefined;
  after(() => stopAll(() => connector?.stop(0), () => net?.stop(0), () => origin?.close()));

  it('the landing PoP logs the path fra,lhr,iad and the connector logs the same', async () => {
    // One way: fra-lhr 10 ms, lhr-iad 10 ms, fra-iad 100 ms, so fra reaches iad through lhr.
    const latency = { 'fra-lhr': 10, 'lhr-fra': 10, 'lhr-iad': 10, 'iad-lhr': 10, 'fra-iad': 100, 'iad-fra': 100 };
    const { log, lines } = captureLogger();
    net = await startDevNetwork({ pops: ['fra', 'lhr', 'iad'], latency, probeInterval: 300, log });
    origin = await startOrigin((_req, res) => res.end('hello'));
    const iad = net.pops.get('iad')!;
    const iadEdge = { api: `http://${iad.api}`, admin: new EdgeClient(`http://${iad.api}`, net.adminToken) } as unknown as TestEdge;
    const credentials = await createTunnel(iadEdge, 'logged', ['logged.localhost'], 'localhost');
    const logged = loggedConnector({ ...credentials, edge: iad.tunnel }, { ingress: [{ service: origin.url }] });
    connector = logged.connector;
    await connector.start();

    const fra = `http://${net.pops.get('fra')!.http}`;
    const atFra = (ray: string) => lines.find((l: LogLine) => l.log === 'access' && l.ray === ray && l.pop === 'fra');
    let ray = '';
    await eventually(
      async () => {
        const reply = await visit(fra, '/', { host: 'logged.localhost', timeoutMs: 5_000 }).catch(() => undefined);
        if (reply?.status !== 200) return false;
        ray = String(reply.headers['burrow-ray']);
        await eventually(() => atFra(ray) !== undefined, 5_000, 'the access line at fra');
        return atFra(ray)!.pops === 'fra,lhr,iad';
      },
      20_000,
      'a request that went fra > lhr > iad',
    );
    await eventually(() => logged.lines.some((l) => l.log === 'access' && l.ray === ray), 5_000, "the connector's line");
    assert.equal(logged.lines.find((l) => l.log === 'access' && l.ray === ray)!.pops, 'fra,lhr,iad');
  });
});
