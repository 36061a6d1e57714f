// ConnectionSupervisor: TLS refusals that retrying cannot cure stop the connector once every edge gave them; others keep it retrying.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { createConnectorHooks, type EdgeAddress } from '../../../core/connector/hooks.ts';
import { ConnectionSupervisor } from '../../../core/connector/supervisor.ts';
import type { TunnelConnection } from '../../../core/connector/tunnel-connection.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { eventually } from '../../helpers/harness.ts';

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });
const clientCertRefused = () => coded('tlsv13 alert certificate required', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
const unknownCa = () => coded('tlsv1 alert unknown ca', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
const hungUp = () => coded('the edge closed the connection right after the TLS handshake, before any HTTP/2 frame (it does not accept this client certificate)', 'EDGE_CLOSED_AFTER_HANDSHAKE');
const closedLater = () => new Error('the edge closed the connection before registration');
const reset = () => coded('read ECONNRESET', 'ECONNRESET');
const unverifiable = () => coded('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN');
const refusedPort = () => coded('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED');

/** A connection whose connect() fails with `fail(edge)`'s error, or registers when it returns undefined. */
function fakeConnection(edge: EdgeAddress, fail: (edge: EdgeAddress) => Error | undefined): TunnelConnection {
  const connection = new EventEmitter() as EventEmitter & { connect(): Promise<unknown>; close(): void; unregister(): Promise<void>; drain(): Promise<void> };
  connection.connect = async () => {
    const error = fail(edge);
    if (error) throw error;
    return { connectionId: `c-${edge.port}`, pop: edge.pop ?? 'p' };
  };
  connection.close = () => connection.emit('closed', 'closed by connector');
  connection.unregister = async () => undefined;
  connection.drain = async () => connection.close();
  return connection as unknown as TunnelConnection;
}

function supervise(edges: EdgeAddress[], fail: (edge: EdgeAddress) => Error | undefined, haConnections = 2) {
  const attempts: string[] = [];
  const supervisor = new ConnectionSupervisor({
    haConnections,
    retries: 0,
    resolveEdges: async () => edges,
    createConnection: (edge) => {
      attempts.push(`${edge.host}:${edge.port}`);
      return fakeConnection(edge, fail);
    },
    hooks: createConnectorHooks(),
    log: silentLogger,
    backoff: { baseMs: 5, capMs: 20 },
  });
  const outcome = new Promise<{ fatal?: Error; ready?: true }>((resolve) => {
    supervisor.once('fatal', (fatal: Error) => resolve({ fatal }));
    supervisor.once('ready', () => resolve({ ready: true }));
  });
  supervisor.start();
  return { supervisor, attempts, outcome };
}

const edgeA: EdgeAddress = { host: '127.0.0.1', port: 7001, pop: 'a' };
const edgeB: EdgeAddress = { host: '127.0.0.1', port: 7002, pop: 'b' };
const edgeC: EdgeAddress = { host: '127.0.0.1', port: 7003, pop: 'c' };

describe('ConnectionSupervisor: TLS refusals that cannot go away', () => {
  const fatalCases: Array<{ name: string; error: () => Error; code: string; says: RegExp }> = [
    { name: 'the edge refuses the client certificate (certificate required alert)', error: clientCertRefused, code: 'BURROW_ERR_REGISTRATION_REFUSED', says: /refused this connector's client certificate.*ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED.*burrow login/ },
    { name: 'the edge refuses the client certificate (unknown CA alert)', error: unknownCa, code: 'BURROW_ERR_REGISTRATION_REFUSED', says: /client certificate.*cert\.pem/ },
    { name: 'the edge hangs up after the handshake, as a Node edge does on a foreign certificate', error: hungUp, code: 'BURROW_ERR_REGISTRATION_REFUSED', says: /closed the connection right after the TLS handshake/ },
    { name: "the connector cannot verify the edge's certificate", error: unverifiable, code: 'BURROW_ERR_EDGE_CERT', says: /cannot verify the certificate of.*SELF_SIGNED_CERT_IN_CHAIN.*cert\.pem/ },
  ];
  for (const c of fatalCases) {
    it(`${c.name}: fatal once every edge refused that way, naming the edges and the fix`, async () => {
      const { supervisor, attempts, outcome } = supervise([edgeA, edgeB], () => c.error());
      const { fatal } = await outcome;
      await supervisor.shutdown(0);
      assert.ok(fatal, 'the supervisor gave up');
      assert.equal((fatal as Error & { code?: string }).code, c.code);
      assert.match(fatal.message, c.says);
      assert.match(fatal.message, /127\.0\.0\.1:7001, 127\.0\.0\.1:7002/);
      assert.match(fatal.message, /Fix: /);
      assert.ok(new Set(attempts).size === 2, `both edges were tried: ${attempts.join(' ')}`);
    });
  }

  it('one edge refusing while another registers is not fatal: the connector connects to the other', async () => {
    const { supervisor, attempts, outcome } = supervise([edgeA, edgeB, edgeC], (edge) => (edge === edgeA ? clientCertRefused() : undefined));
    const result = await outcome;
    assert.equal(result.fatal, undefined);
    await eventually(() => supervisor.connections.length === 2, 5_000, 'two connections on the edges that accept');
    await supervisor.shutdown(0);
    assert.ok(attempts.includes('127.0.0.1:7001'), 'the refusing edge was tried');
  });

  it('a refusal interleaved with other failures (an edge restarting) keeps retrying', async () => {
    let attempt = 0;
    const { supervisor, attempts, outcome } = supervise([edgeA], () => (attempt++ % 2 === 0 ? hungUp() : refusedPort()), 1);
    let fatal: Error | undefined;
    void outcome.then((result) => (fatal = result.fatal));
    await eventually(() => attempts.length >= 8, 10_000, 'several attempts');
    await supervisor.shutdown(0);
    assert.equal(fatal, undefined, fatal?.message);
  });

  const retriedCases: Array<{ name: string; edges: EdgeAddress[]; error: () => Error; haConnections: number }> = [
    { name: 'a reset (a load balancer with no edge behind it)', edges: [edgeA], error: reset, haConnections: 1 },
    { name: 'a close after the edge spoke HTTP/2 (an edge restarting)', edges: [edgeA], error: closedLater, haConnections: 1 },
    { name: 'an edge that cannot be reached (retries: 0)', edges: [edgeA, edgeB], error: refusedPort, haConnections: 2 },
  ];
  for (const c of retriedCases) {
    it(`${c.name} is retried, never fatal`, async () => {
      const { supervisor, attempts, outcome } = supervise(c.edges, () => c.error(), c.haConnections);
      let fatal: Error | undefined;
      void outcome.then((result) => (fatal = result.fatal));
      await eventually(() => attempts.length >= 8, 10_000, 'several attempts');
      await supervisor.shutdown(0);
      assert.equal(fatal, undefined, fatal?.message);
    });
  }

  it('stops every connection slot after the fatal refusal: no attempt follows it', async () => {
    const { supervisor, attempts, outcome } = supervise([edgeA], () => unverifiable(), 4);
    assert.ok((await outcome).fatal);
    const made = attempts.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(attempts.length, made);
    await supervisor.shutdown(0);
  });
});
