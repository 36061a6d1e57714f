// Restarts under load, counted: an edge and two connector replicas of one tunnel as processes (`burrow edge`,
// `burrow tunnel run`) while slow requests (200 ms answers, streamed bodies, POSTs echoed after 200 ms) run at 40 req/s.
// A replica's SIGTERM loses nothing; an edge's SIGTERM lets the requests it holds finish, and after it is started
// again the connectors register again by themselves and the load succeeds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  connectorSigtermUnderLoad,
  edgeRestartUnderLoad,
  replaceStoppedReplica,
  startRestartWorld,
  type ConnectorStopCounts,
  type EdgeRestartCounts,
  type RestartWorld,
} from '../helpers/restart-scenarios.ts';

let world: RestartWorld | undefined;
let connectorStop: ConnectorStopCounts | undefined;
let edgeRestart: EdgeRestartCounts | undefined;
let failure: unknown;

before(async () => {
  try {
    world = await startRestartWorld({ edgeGracePeriod: '5s' });
    connectorStop = await connectorSigtermUnderLoad(world);
    await replaceStoppedReplica(world);
    edgeRestart = await edgeRestartUnderLoad(world);
  } catch (error) {
    failure = error;
  }
});

after(async () => {
  await world?.close();
});

const counts = <T>(value: T | undefined): T => {
  if (failure) throw failure;
  assert.ok(value, 'the scenario ran');
  return value;
};

describe('a connector replica gets SIGTERM with requests in flight, the other replica running', () => {
  it('the load was real: the replica and the origin had requests in flight at SIGTERM', () => {
    const c = counts(connectorStop);
    assert.ok(c.stoppedReplicaInFlight > 0, `in flight on the stopped replica: ${c.stoppedReplicaInFlight}`);
    assert.ok(c.inFlightAtSigterm > 0, `in flight at the origin: ${c.inFlightAtSigterm}`);
  });

  it('no request fails: the ones in flight finish, new ones go to the other replica', () => {
    const c = counts(connectorStop);
    assert.equal(c.failed, 0, `${c.failed} of ${c.requests} failed: ${JSON.stringify(c.errors)}`);
    assert.equal(c.ok, c.requests);
  });

  it('the replica exits 0 within its grace period, and the other one serves the load on its own', () => {
    const c = counts(connectorStop);
    assert.deepEqual(c.stoppedExit, { code: 0, signal: null, killed: false });
    assert.ok(c.afterExit > 0, 'requests were started after the replica exited');
    assert.equal(c.afterExitOk, c.afterExit);
    assert.equal(c.replicaStillRunning, true);
  });
});

describe('the edge gets SIGTERM under load and is started again on the same ports and dataDir', () => {
  it('every request the edge held at SIGTERM completes', () => {
    const e = counts(edgeRestart);
    assert.ok(e.inFlightAtSigterm > 0, `in flight at SIGTERM: ${e.inFlightAtSigterm}`);
    assert.equal(e.inFlightAtSigtermFailed, 0, `${e.inFlightAtSigtermFailed} of ${e.inFlightAtSigterm} failed: ${JSON.stringify(e.errors)}`);
  });

  it('the edge exits 0 by itself; visitors that found no edge or no connection yet are counted', (t) => {
    const e = counts(edgeRestart);
    assert.deepEqual(e.edgeExit, { code: 0, signal: null, killed: false });
    assert.equal(e.failed, e.visitorSideFailures + e.reachedOriginFailed);
    t.diagnostic(`${e.requests} requests, ${e.ok} ok, ${e.visitorSideFailures} failed visitor-side ${JSON.stringify(e.errors)}, ${e.reachedOriginFailed} of ${e.reachedOrigin} that reached the origin failed`);
  });

  it('the connectors register again by themselves and the load succeeds again', () => {
    const e = counts(edgeRestart);
    assert.equal(e.connectorsStillRunning, true);
    assert.ok(e.afterReRegistered > 0, 'requests were started after the connections registered again');
    assert.equal(e.afterReRegisteredOk, e.afterReRegistered, `${e.afterReRegistered - e.afterReRegisteredOk} failed after the connections were back`);
  });

  it('no request the edge took fails, including those on keep-alive connections that were open when it began to drain', () => {
    const e = counts(edgeRestart);
    assert.equal(e.reachedOriginFailed, 0, `${e.reachedOriginFailed} of ${e.reachedOrigin} failed`);
  });
});
