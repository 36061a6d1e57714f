// End to end: a connector that dies mid-request (abort, crash) costs only that request; the edge keeps serving.
// Each scenario runs in a child process (scenarios/connector-lifecycle.ts) so a crash or hang fails only its tests.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assertRayedBadGateway, suiteScenario } from '../helpers/isolated.ts';

const SCENARIOS = path.join(import.meta.dirname, 'scenarios', 'connector-lifecycle.ts');

const scenario = <T>(name: string) => suiteScenario<T>(SCENARIOS, name);

describe('connector dropped while a request is unanswered', () => {
  const outcome = scenario<{ inFlight: { status?: number; text?: string; ray?: string; error?: string }; bystander: number | string }>('abort-unanswered');

  it('the visitor gets a 502 page naming its ray', () => {
    const { inFlight } = outcome().result!;
    assertRayedBadGateway(inFlight);
  });

  it('the edge keeps serving other tunnels', () => {
    assert.equal(outcome().result!.bystander, 200);
  });
});

describe('connector dropped while a response body is half sent', () => {
  const outcome = scenario<{ inFlight: { status?: number; received: number; complete: boolean; error?: string }; bystander: number | string }>('abort-mid-response');

  it('the visitor sees the response cut short, not a complete one and not a hang', () => {
    const { inFlight } = outcome().result!;
    assert.equal(inFlight.status, 200);
    assert.equal(inFlight.complete, false);
    assert.ok(inFlight.received < 1_000, `received ${inFlight.received} of 1000 bytes`);
    assert.ok(!/within 10 s/.test(inFlight.error ?? ''), 'the response never ended');
  });

  it('the edge keeps serving other tunnels', () => {
    assert.equal(outcome().result!.bystander, 200);
  });
});
