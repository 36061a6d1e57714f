// `npm run bench:peers`: one peers.sh run with Burrow beside direct, nginx, ssh -R, localtunnel and Burrow's floor;
// prints one table with the ratios the goals are stated in and writes a chart (bench/results/peers.svg).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const shared = process.env.PEERS_SH ?? path.resolve(root, '../shared/bench/peers.sh');
const scenarios = process.env.SCENARIOS ?? 'direct nginx ssh localtunnel project floor';
const tsv = path.join(os.tmpdir(), `burrow-peers-${process.pid}.tsv`);
const chart = path.join(root, 'bench/results/peers.svg');

interface Row {
  scenario: string;
  reqs?: number;
  p99ms?: number;
  mibs?: number;
}

const NAMES: Record<string, string> = { direct: 'direct', nginx: 'nginx', ssh: 'ssh -R', localtunnel: 'localtunnel', project: 'Burrow', floor: 'Burrow floor' };

async function main(): Promise<void> {
  if (!existsSync(shared)) throw new Error(`no peers.sh at ${shared} (set PEERS_SH)`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn('bash', [shared], {
      stdio: 'inherit',
      env: { ...process.env, PROJECT_DIR: root, EXTRA_SCENARIOS_FILE: path.join(root, 'bench/peers-all.sh'), PEERS_NODE_FILE: path.resolve(shared, '../peers-node.sh'), SCENARIOS: scenarios, OUT_TSV: tsv },
    });
    child.once('close', (status) => resolve(status ?? 1));
  });
  if (!existsSync(tsv)) throw new Error(`peers.sh exited ${code} without results`);
  const rows = parse(await readFile(tsv, 'utf8'));
  print(rows);
  await mkdir(path.dirname(chart), { recursive: true });
  await writeFile(chart, svg(rows));
  console.log(`\nchart: ${path.relative(process.cwd(), chart)}`);
}

/** Median per scenario and load over the rounds. */
function parse(text: string): Row[] {
  const cells = new Map<string, { small: Array<Record<string, number>>; big: Array<Record<string, number>> }>();
  for (const line of text.split('\n')) {
    const [, scenario, kind, ...fields] = line.split('\t');
    if (!scenario || !kind || fields[0] === 'FAILED') continue;
    const values = Object.fromEntries(
      fields
        .join(' ')
        .split(/\s+/)
        .map((pair) => pair.split('='))
        .filter((kv) => kv.length === 2)
        .map(([k, v]) => [k!, Number(v)]),
    );
    const cell = cells.get(scenario) ?? { small: [], big: [] };
    (kind === 'small' ? cell.small : cell.big).push(values);
    cells.set(scenario, cell);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return scenarios
    .split(/\s+/)
    .filter((s) => cells.has(s))
    .map((scenario) => {
      const { small, big } = cells.get(scenario)!;
      return {
        scenario,
        reqs: small.length ? median(small.map((v) => v.requests! / (v.duration_us! / 1e6))) : undefined,
        p99ms: small.length ? median(small.map((v) => v.p99_us! / 1000)) : undefined,
        mibs: big.length ? median(big.map((v) => v.bytes! / 1048576 / (v.duration_us! / 1e6))) : undefined,
      };
    });
}

function print(rows: Row[]): void {
  const by = new Map(rows.map((r) => [r.scenario, r]));
  const burrow = by.get('project');
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : '-');
  console.log('\n| | GET / req/s | p99 | 1 MiB MiB/s | Burrow req/s is | Burrow MiB/s is |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${NAMES[row.scenario] ?? row.scenario} | ${row.reqs?.toFixed(0) ?? '-'} | ${row.p99ms?.toFixed(1) ?? '-'} ms | ${row.mibs?.toFixed(0) ?? '-'} | ${row.scenario === 'project' ? '' : ratio(burrow?.reqs, row.reqs)} | ${row.scenario === 'project' ? '' : ratio(burrow?.mibs, row.mibs)} |`,
    );
  }
  console.log('\nGoals: req/s at least 5x localtunnel and 0.8x the floor; 1 MiB MiB/s at least 2x localtunnel and 1.5x ssh -R.');
}

/** Two horizontal bar charts side by side (req/s and MiB/s), one bar per scenario, Burrow highlighted. */
function svg(rows: Row[]): string {
  const width = 760;
  const barH = 22;
  const gap = 8;
  const top = 48;
  const label = 110;
  const panel = (width - label - 40) / 2;
  const height = top + rows.length * (barH + gap) + 30;
  const maxReqs = Math.max(...rows.map((r) => r.reqs ?? 0), 1);
  const maxMibs = Math.max(...rows.map((r) => r.mibs ?? 0), 1);
  const bar = (x: number, y: number, value: number | undefined, max: number, highlight: boolean, unit: string) => {
    if (value === undefined) return `<text x="${x + 4}" y="${y + 15}" class="v">failed</text>`;
    const w = Math.max(1, (value / max) * (panel - 70));
    return `<rect x="${x}" y="${y}" width="${w.toFixed(1)}" height="${barH}" class="${highlight ? 'b' : 'o'}"/><text x="${(x + w + 4).toFixed(1)}" y="${y + 15}" class="v">${value.toFixed(0)} ${unit}</text>`;
  };
  const body = rows
    .map((row, i) => {
      const y = top + i * (barH + gap);
      const highlight = row.scenario === 'project';
      return [
        `<text x="${label - 8}" y="${y + 15}" class="l" text-anchor="end">${NAMES[row.scenario] ?? row.scenario}</text>`,
        bar(label, y, row.reqs, maxReqs, highlight, 'req/s'),
        bar(label + panel + 20, y, row.mibs, maxMibs, highlight, 'MiB/s'),
      ].join('');
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13">
<style>.b{fill:#c2410c}.o{fill:#94a3b8}.l{fill:#111}.v{fill:#333;font-size:12px}.h{font-weight:600}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="${label}" y="24" class="h">GET / req/s (50 connections)</text>
<text x="${label + panel + 20}" y="24" class="h">GET 1 MiB, MiB/s (10 connections)</text>
${body}
<text x="${label}" y="${height - 8}" class="v">${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${process.version}, one peers.sh run on loopback</text>
</svg>
`;
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
