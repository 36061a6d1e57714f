// Runs a test scenario in a child process, so a hang, a blocked event loop or a crash fails one test, not the run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before } from 'node:test';

/** What a scenario child reported. */
export interface ScenarioOutcome<T> {
  /** The scenario's return value, when it finished. */
  result?: T;
  /** The scenario threw: its message. */
  error?: string;
  /** Uncaught exceptions and unhandled rejections raised in the child while the scenario ran. */
  uncaught: string[];
  /** The child's event loop stopped ticking (busy loop) and it was killed. */
  stalled: boolean;
  /** The child did not finish before the deadline and was killed. */
  timedOut: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

const TICK = 'TICK';
const RESULT = 'RESULT ';

/**
 * Runs `node --import tsx <file> <name>` (a file that calls `serveScenarios`) and collects what it reports.
 * The child ticks every 100 ms; if it stops ticking for `stallMs` its event loop is blocked and it is killed.
 * The stall clock starts at the first tick: loading the sources is slow on a busy machine, and the deadline covers it.
 */
export function runScenario<T>(file: string, name: string, options: { deadlineMs?: number; stallMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ScenarioOutcome<T>> {
  const { deadlineMs = 60_000, stallMs = 3_000 } = options;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, name], {
      cwd: process.cwd(),
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // If this test process goes away first, take the child with it (a spinning child never exits by itself).
    const killChild = () => child.kill('SIGKILL');
    process.once('exit', killChild);
    const outcome: ScenarioOutcome<T> = { uncaught: [], stalled: false, timedOut: false, exitCode: null, signal: null, stderr: '' };
    let lastTick: number | undefined;
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line === TICK) lastTick = Date.now();
        else if (line.startsWith(RESULT)) Object.assign(outcome, JSON.parse(line.slice(RESULT.length)));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (outcome.stderr.length < 20_000) outcome.stderr += chunk;
    });
    const started = Date.now();
    const watchdog = setInterval(() => {
      if (lastTick !== undefined && Date.now() - lastTick > stallMs) outcome.stalled = true;
      else if (Date.now() - started > deadlineMs) outcome.timedOut = true;
      else return;
      clearInterval(watchdog);
      child.kill('SIGKILL');
    }, 200);
    child.once('close', (code, signal) => {
      clearInterval(watchdog);
      process.off('exit', killChild);
      outcome.exitCode = code;
      outcome.signal = signal;
      resolve(outcome);
    });
  });
}

/** One-line summary of a failed scenario, for assertion messages. */
export function describeOutcome(outcome: ScenarioOutcome<unknown>): string {
  const parts = [];
  if (outcome.stalled) parts.push('its event loop stopped (a busy loop) and it was killed');
  if (outcome.timedOut) parts.push('it did not finish before the deadline');
  if (outcome.error) parts.push(`it failed: ${outcome.error}`);
  if (outcome.uncaught.length) parts.push(`uncaught: ${outcome.uncaught.join(' | ')}`);
  if (outcome.exitCode !== 0) parts.push(`exit ${outcome.exitCode ?? outcome.signal}`);
  const stderr = outcome.stderr.trim().split('\n').slice(-5).join('\n');
  return `${parts.join('; ') || 'no problem reported'}${stderr ? `\nstderr:\n${stderr}` : ''}`;
}

/**
 * The child side: ticks for the watchdog, records uncaught errors, runs the scenario named in argv and
 * reports its result. `settleMs` keeps the process alive after the scenario, so late errors are seen too.
 */
export async function serveScenarios(scenarios: Record<string, () => Promise<unknown>>, settleMs = 2_500): Promise<never> {
  const name = process.argv[2] ?? '';
  const uncaught: string[] = [];
  process.on('uncaughtException', (error) => void uncaught.push(`${error.name}: ${error.message}`));
  process.on('unhandledRejection', (error) => void uncaught.push(`unhandled rejection: ${(error as Error)?.message ?? String(error)}`));
  const ticker = setInterval(() => process.stdout.write(`${TICK}\n`), 100);
  let report: { result?: unknown; error?: string };
  const scenario = scenarios[name];
  if (!scenario) report = { error: `no scenario "${name}" (have ${Object.keys(scenarios).join(', ')})` };
  else {
    try {
      report = { result: await scenario() };
    } catch (error) {
      report = { error: (error as Error)?.stack ?? String(error) };
    }
  }
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  clearInterval(ticker);
  process.stdout.write(`${RESULT}${JSON.stringify({ ...report, uncaught })}\n`);
  // Exit even if the scenario left handles open; the parent reads the result from stdout.
  process.stdout.write('', () => process.exit(0));
  return new Promise<never>(() => undefined);
}

/**
 * Runs scenario `name` of `file` once for the enclosing suite (in `before`); each test then calls the returned
 * function to check one thing the scenario observed, failing with how the scenario ended if it did not finish.
 */
export function suiteScenario<T>(file: string, name: string): () => ScenarioOutcome<T> {
  let outcome: ScenarioOutcome<T> | undefined;
  before(async () => {
    outcome = await runScenario<T>(file, name);
  });
  return () => {
    assert.ok(outcome?.result, `scenario "${name}" did not finish: ${outcome ? describeOutcome(outcome) : 'not run'}`);
    return outcome;
  };
}

/** A visitor request whose tunnel broke before any answer: it got a 502 page that names its ray. */
export function assertRayedBadGateway(reply: { status?: number; text?: string; ray?: string; error?: string }): void {
  assert.equal(reply.error, undefined, 'the visitor got no response');
  assert.equal(reply.status, 502);
  assert.ok(reply.text?.includes(reply.ray!), 'the page names the ray');
}
