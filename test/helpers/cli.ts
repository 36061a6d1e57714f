// Runs ./bin/burrow as a user would: one-shot commands with their exit code and output, and long-running processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

export const BURROW_BIN = path.resolve(import.meta.dirname, '../../bin/burrow');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `burrow ...args` to completion (killed after `timeoutMs`). */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(BURROW_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => void (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A long-running `burrow` process (edge, tunnel run) whose output is collected as it comes. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private exited?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(BURROW_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => void (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (this.stderr += chunk));
    // If the test process exits first (a crash, a timeout), do not leave an edge or connector running.
    const killChild = () => this.child.kill('SIGKILL');
    process.once('exit', killChild);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        process.off('exit', killChild);
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until stdout+stderr match `pattern` (bounded); fails early if the process exits. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = (this.stdout + this.stderr).match(pattern);
      if (match) return match;
      if (!this.running) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`burrow ${this.child.spawnargs.slice(1).join(' ')} did not print ${pattern} (${this.running ? 'still running' : `exited ${this.child.exitCode ?? this.child.signalCode}`})\n--- output ---\n${(this.stdout + this.stderr).slice(-3000)}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves with how it exited. */
  async stop(graceMs = 5_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    if (!this.running) return { ...(await this.exited!), killed: false };
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([
      this.exited!.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (killed) this.child.kill('SIGKILL');
    return { ...(await this.exited!), killed };
  }
}

/** An edge in its own process (so it can be killed with SIGKILL), from a config file, as `burrow edge` runs. */
export async function spawnEdge(dir: string, settings: Record<string, unknown>, token = 'test-admin-token', name = 'edge.json'): Promise<{ child: ChildProcess; addresses: Record<string, string> }> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify({ edge: settings }));
  const child = spawn(process.execPath, [BURROW_BIN, 'edge', '--config', file], { env: { ...process.env, BURROW_EDGE_TOKEN: token, BURROW_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const addresses = await new Promise<Record<string, string>>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (line.includes('"edge ready"')) return resolve(JSON.parse(line) as Record<string, string>);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the edge exited with ${code} before it was ready:\n${output}`)));
  });
  return { child, addresses };
}
