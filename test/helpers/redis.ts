// Runs a throwaway redis-server (Debian's, installed by .ci/run) on a free loopback port in a temp dir, for registry tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { removeDir, tempDir } from './harness.ts';
import { requireProgram } from './system.ts';

export interface TestRedis {
  /** redis://127.0.0.1:PORT/0 */
  readonly url: string;
  readonly port: number;
  /** Saves the data to the temp dir and stops the server: clients see it go away. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the data `stop()` saved. */
  start(): Promise<void>;
  /** Stops it for good and removes the temp dir. */
  close(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = await tempDir('burrow-redis-');
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}/0`;
  let server: ChildProcess | undefined;

  const start = async () => {
    const child = spawn(requireProgram('redis-server', 'redis-server'), ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'dump.rdb'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      });
      child.once('error', (error) => reject(new Error(`cannot run redis-server (apt-get install redis-server): ${error.message}`)));
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)));
    });
  };

  const stop = async () => {
    const child = server;
    if (!child || child.exitCode !== null) return;
    server = undefined;
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      await client.save();
    } finally {
      client.disconnect();
    }
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    url,
    port,
    stop,
    start,
    close: async () => {
      await stop();
      await removeDir(dir);
    },
  };
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
