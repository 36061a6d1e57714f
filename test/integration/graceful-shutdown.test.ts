// End to end: connector.stop(grace) finishes requests in flight, then visitors get 530; a replica takes over.
// Each scenario runs in a child process (scenarios/connector-lifecycle.ts) so a crash or hang fails only its tests.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assertRayedBadGateway, suiteScenario } from '../helpers/isolated.ts';

const SCENARIOS = path.join(import.meta.dirname, 'scenarios', 'connector-lifecycle.ts');
const PART = 'first half of a slow answer;';
const REST = ' and the second half, 1.5 s later.';

interface Reply {
  status?: number;
  text?: string;
  ray?: string;
  error?: string;
}

const scenario = <T>(name: string) => suiteScenario<T>(SCENARIOS, name);

describe('graceful shutdown: a request in flight during connector.stop(5 s)', () => {
  const outcome = scenario<{ inFlight: Reply; during: Reply; after: Reply; connectorConnections: number; edgeConnections: number }>('drain');

  it('the request in flight completes with 200 and its full body', () => {
    const { inFlight } = outcome().result!;
    assert.equal(inFlight.error, undefined);
    assert.equal(inFlight.status, 200);
    assert.equal(inFlight.text, PART + REST);
  });

  it('new requests while the connector drains get the 530 page', () => {
    const { during } = outcome().result!;
    assert.equal(during.status, 530);
    assert.ok(during.text?.includes(during.ray!), 'the page names the ray');
  });

  it('after stop() new requests get 530 and no connection is left on either side', () => {
    const { after, connectorConnections, edgeConnections } = outcome().result!;
    assert.equal(after.status, 530);
    assert.equal(connectorConnections, 0);
    assert.equal(edgeConnections, 0);
  });

  it('the connector raises no error after it stopped', () => {
    assert.deepEqual(outcome().uncaught, []);
  });
});

describe('graceful shutdown: two replicas of one tunnel', () => {
  const outcome = scenario<{ responses: Reply[]; remaining: string[]; second: string }>('replica');

  it('requests keep succeeding through the second replica after the first stopped', () => {
    const { responses } = outcome().result!;
    assert.equal(responses.length, 10);
    for (const [i, response] of responses.entries()) {
      assert.equal(response.status, 200, `request ${i}: ${response.error ?? response.text}`);
      assert.equal(response.text, `fast /fast/${i}`);
    }
  });

  it('only the second replica is still connected', () => {
    const { remaining, second } = outcome().result!;
    assert.deepEqual(remaining, [second]);
  });

  it('the connector raises no error after it stopped', () => {
    assert.deepEqual(outcome().uncaught, []);
  });
});

describe('graceful shutdown: the grace period ends before the origin answers', () => {
  const outcome = scenario<{ inFlight: Reply; bystander: number | string }>('grace-expires');

  it('the unanswered request gets a 502 page naming its ray', () => {
    const { inFlight } = outcome().result!;
    assertRayedBadGateway(inFlight);
  });

  it('the edge keeps serving other tunnels', () => {
    assert.equal(outcome().result!.bystander, 200);
  });
});

describe('graceful shutdown: nothing in flight', () => {
  const outcome = scenario<{ before: number; same: boolean; after: number }>('idle-stop');

  it('stop() called twice is one stop, and afterwards visitors get 530', () => {
    const { before, same, after } = outcome().result!;
    assert.equal(before, 200);
    assert.equal(same, true);
    assert.equal(after, 530);
  });

  it('the connector raises no error after it stopped', () => {
    assert.deepEqual(outcome().uncaught, []);
  });
});
