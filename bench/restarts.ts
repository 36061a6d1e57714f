// `node --import tsx bench/restarts.ts`: requests lost to restarts under load. An edge and two connector replicas of
// one tunnel as processes, slow requests (200 ms answers, streamed bodies, POSTs echoed after 200 ms) at 40 req/s:
// (1) one replica gets SIGTERM with requests in flight; (2) after it is replaced, the edge gets SIGTERM and is started
// again on the same ports and dataDir. Prints the counts of each.
import { connectorSigtermUnderLoad, edgeRestartUnderLoad, replaceStoppedReplica, startRestartWorld } from '../test/helpers/restart-scenarios.ts';

const RATE = Number(process.env.BENCH_RATE ?? 40);
const world = await startRestartWorld();
try {
  const c = await connectorSigtermUnderLoad(world, RATE);
  console.log(`Connector SIGTERM under load (${RATE} req/s, a second replica running, Node ${process.version})`);
  console.log('| requests | ok | failed | in flight at SIGTERM (origin) | in flight on the stopped replica | exit | started after it exited (ok) |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(
    `| ${c.requests} | ${c.ok} | ${c.failed} | ${c.inFlightAtSigterm} | ${c.stoppedReplicaInFlight} | ${c.stoppedExit.killed ? 'killed' : `code ${c.stoppedExit.code}`} | ${c.afterExit} (${c.afterExitOk}) |`,
  );
  if (c.failed) console.log(`errors: ${JSON.stringify(c.errors)}`);

  await replaceStoppedReplica(world);
  const e = await edgeRestartUnderLoad(world, RATE);
  console.log('');
  console.log(`Edge SIGTERM and start again on the same ports and dataDir under load (${RATE} req/s, two replicas of 2 connections)`);
  console.log('| requests | ok | failed | reached the origin (failed) | in flight at SIGTERM (failed) | visitor-side failures | exit | old edge exited | new edge ready | all connections registered | started after that (ok) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${e.requests} | ${e.ok} | ${e.failed} | ${e.reachedOrigin} (${e.reachedOriginFailed}) | ${e.inFlightAtSigterm} (${e.inFlightAtSigtermFailed}) | ${e.visitorSideFailures} | ${e.edgeExit.killed ? 'killed' : `code ${e.edgeExit.code}`} | ${e.exitMs} ms | ${e.restartedMs} ms | ${e.reRegisteredMs} ms | ${e.afterReRegistered} (${e.afterReRegisteredOk}) |`,
  );
  console.log(`failed requests by error: ${JSON.stringify(e.errors)}`);
} finally {
  await world.close();
}
