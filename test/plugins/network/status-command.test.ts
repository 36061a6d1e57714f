// `network status` and `tunnel route explain` as text: PoP table with link RTTs, each PoP's routes, and a route hop by hop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatNetworkStatus, formatRouteExplanation } from '../../../plugins/network/status-command.ts';
import type { NetworkStatus, RouteExplanation } from '../../../plugins/network/view.ts';

const startedAt = '2026-11-24T19:25:00.000Z';
const status: NetworkStatus = {
  pop: 'fra',
  pops: [
    { name: 'ewr', region: 'us', peer: '10.0.0.3:7846', addresses: {}, startedAt, links: { iad: 10.04, lhr: 70.2 } },
    { name: 'fra', region: 'eu', peer: '10.0.0.1:7846', addresses: { api: '127.0.0.1:7845' }, startedAt, links: { iad: 240.3, lhr: 20.1 } },
    { name: 'iad', peer: '10.0.0.4:7846', addresses: {}, startedAt, links: {} },
    { name: 'lhr', region: 'eu', peer: '', addresses: {}, startedAt, links: { fra: 20.1 } },
  ],
  routes: {
    fra: {
      ewr: { path: ['fra', 'lhr', 'ewr'], rttMs: 90.3 },
      iad: { path: ['fra', 'lhr', 'ewr', 'iad'], rttMs: 100.44 },
      lhr: { path: ['fra', 'lhr'], rttMs: 20.1 },
    },
    iad: { ewr: null, fra: null, lhr: null },
  },
};

describe('formatNetworkStatus', () => {
  const text = formatNetworkStatus(status);
  const lines = text.split('\n');

  it('lists every PoP with its region, peer address and links, nearest first', () => {
    assert.equal(lines[0], 'Network as fra sees it: 4 PoPs');
    assert.match(text, /^POP +REGION +PEER +LINKS$/m);
    assert.match(text, /^fra +eu +10\.0\.0\.1:7846 +lhr 20\.1ms, iad 240\.3ms$/m);
    assert.match(text, /^ewr +us +10\.0\.0\.3:7846 +iad 10\.0ms, lhr 70\.2ms$/m);
    assert.match(text, /^iad +- +10\.0\.0\.4:7846 +\(no live links\)$/m);
    assert.match(text, /^lhr +eu +- +fra 20\.1ms$/m);
  });

  it("aligns the table's columns", () => {
    const header = lines.find((line) => line.startsWith('POP '))!;
    const fra = lines.find((line) => line.startsWith('fra '))!;
    const iad = lines.find((line) => line.startsWith('iad '))!;
    assert.equal(fra.indexOf('10.0.0.1'), header.indexOf('PEER'));
    assert.equal(iad.indexOf('(no live links)'), header.indexOf('LINKS'));
    assert.equal(iad.indexOf(' - ') + 1, header.indexOf('REGION'));
  });

  it("prints each PoP's route to every other, with the path and its total RTT", () => {
    assert.match(text, /^fra -> iad  fra > lhr > ewr > iad  100\.4ms$/m);
    assert.match(text, /^fra -> lhr  fra > lhr +20\.1ms$/m);
    assert.match(text, /^fra -> ewr  fra > lhr > ewr +90\.3ms$/m);
    assert.match(text, /^iad -> fra  unreachable$/m);
    const routeLines = lines.filter((line) => line.includes(' -> '));
    assert.deepEqual(
      routeLines.map((line) => line.split('  ')[0]),
      ['fra -> ewr', 'fra -> iad', 'fra -> lhr', 'iad -> ewr', 'iad -> fra', 'iad -> lhr'],
    );
  });

  it('says so when there is only one PoP', () => {
    const single = formatNetworkStatus({ pop: 'solo', pops: [{ name: 'solo', peer: '127.0.0.1:7846', addresses: {}, startedAt, links: {} }], routes: { solo: {} } });
    assert.match(single, /^Network as solo sees it: 1 PoP$/m);
    assert.match(single, /\(none: the network has one PoP\)/);
  });
});

describe('formatRouteExplanation', () => {
  const tunnel = { id: '50cfac73-2c19-4f2a-8426-172c7493f72b', name: 'app' };

  it('names where the request is served, then each hop with its RTT and the total', () => {
    const route: RouteExplanation = {
      hostname: 'app.example.test',
      tunnel,
      from: 'fra',
      to: 'iad',
      servedAt: ['iad'],
      path: ['fra', 'lhr', 'ewr', 'iad'],
      hops: [
        { from: 'fra', to: 'lhr', rttMs: 20.1 },
        { from: 'lhr', to: 'ewr', rttMs: 70.2 },
        { from: 'ewr', to: 'iad', rttMs: 10.1 },
      ],
      rttMs: 100.4,
    };
    assert.equal(
      formatRouteExplanation(route),
      [
        'app.example.test from fra: served at iad',
        `  tunnel app (${tunnel.id}), connections at iad`,
        '  fra -> lhr   20.1ms',
        '  lhr -> ewr   70.2ms',
        '  ewr -> iad   10.1ms',
        '  total       100.4ms',
        '',
      ].join('\n'),
    );
  });

  it('says there is no hop when the PoP it lands at holds a connection', () => {
    const text = formatRouteExplanation({ hostname: 'app.example.test', tunnel, from: 'iad', to: 'iad', servedAt: ['iad', 'lhr'], path: ['iad'], hops: [], rttMs: 0 });
    assert.match(text, /^app\.example\.test from iad: served at iad$/m);
    assert.match(text, /connections at iad, lhr/);
    assert.match(text, /no hops: iad holds a connection of the tunnel/);
  });

  it('says a request is not served when no PoP holding a connection can be reached', () => {
    const text = formatRouteExplanation({ hostname: 'app.example.test', tunnel, from: 'fra', to: null, servedAt: ['iad'], path: [], hops: [], rttMs: 0 });
    assert.match(text, /^app\.example\.test from fra: not served \(visitors get 530\)$/m);
    assert.match(text, /has connections at iad, and fra has no path to it/);
    const none = formatRouteExplanation({ hostname: 'app.example.test', tunnel, from: 'fra', to: null, servedAt: [], path: [], hops: [], rttMs: 0 });
    assert.match(none, /tunnel app \(.*\) has no live connections$/m);
  });
});
