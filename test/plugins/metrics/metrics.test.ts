// The metrics plugin provides one Prometheus registry (MetricsToken) per runtime: its own series and other plugins' share /metrics.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Counter } from 'prom-client';
import { defaultPlugins } from '../../../config/default.ts';
import { definePlugin, Edge, MetricsToken } from '../../../core/index.ts';
import { resolveRuntimePlugins } from '../../../core/kernel/loader.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { createTestKit } from '../../../core/testing/index.ts';
import { removeDir, tempDir } from '../../helpers/harness.ts';
import { stopAll } from '../../helpers/http.ts';

/** A plugin that adds a counter to the shared registry during its own setup, on either runtime. */
const counting = definePlugin({
  id: 'counting',
  edge(api) {
    new Counter({ name: 'counting_edge_total', help: 'set up on the edge', registers: [api.services.get(MetricsToken)] }).inc(3);
  },
  connector(api) {
    new Counter({ name: 'counting_connector_total', help: 'set up on the connector', registers: [api.services.get(MetricsToken)] }).inc(2);
  },
});

describe('metrics plugin', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  after(() => stopAll(...cleanup));

  it('serves other plugins\' series with its own on the edge\'s /metrics', async () => {
    const dataDir = await tempDir('burrow-metrics-');
    const edge = Edge.fromConfig(
      { pop: 'test', dataDir, listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0' } },
      {
        log: silentLogger,
        resolvedPlugins: await resolveRuntimePlugins({ defaults: defaultPlugins, listed: [{ spec: { use: counting }, keyPath: ['plugins', 0] }] }),
      },
    );
    cleanup.push(() => edge.stop(0), () => removeDir(dataDir));
    const { api } = await edge.start();
    const text = await (await fetch(`http://${api}/metrics`)).text();
    assert.match(text, /^counting_edge_total 3$/m);
    assert.match(text, /^burrow_edge_connections 0$/m);
  });

  it('gives connector plugins the same registry, which counts requests without a metrics address', async () => {
    const kit = await createTestKit({ plugins: [counting], ingress: [{ service: 'http_status:204' }] });
    cleanup.push(() => kit.close());
    assert.equal((await kit.inject()).status, 204);
    const text = await kit.connector.services.get(MetricsToken).metrics();
    assert.match(text, /^counting_connector_total 2$/m);
    assert.match(text, /^burrow_connector_requests_total\{rule="0",status="204"\} 1$/m);
  });
});
