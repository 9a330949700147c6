/**
 * `npm run bench:shapes`: what each part of a message costs nats-server. On fresh servers, after
 * an unmeasured warm-up, the raw JetStream publish of the bench's ceiling runs once per shape and
 * round (each round in another order), each into a fresh file-storage stream, and the medians of
 * the stored rate and of nats-server's CPU per message are printed per shape.
 */
import { parseArgs } from 'node:util';
import { wholeNumber } from './args.js';
import { BARE, rawPublish, SERVICE_DEFAULT, SERVICE_REPLICATED, type CeilingShape } from './ceilings.js';
import { formatTable, storedRate } from './report.js';
import { startBenchServers } from './servers.js';
import { median } from './stats.js';
import { ChangeSet, sampleEvents } from './workload.js';

const USAGE = `usage: npm run bench:shapes -- [--messages N] [--rounds N]

  --messages N  messages per run (default 200 000)
  --rounds N    runs of every shape, each round in another order (default 3)`;

const WINDOW = 4096;

const SHAPES: [string, CeilingShape][] = [
  ['Nats-Msg-Id only (bare)', BARE],
  ['+ Pgwalstreams-Slot', { slot: true }],
  ['+ Nats-Expected-Last-Sequence', { expected: true }],
  ['+ both, its inbox length: the service to a replicated stream', SERVICE_REPLICATED],
  ['the same, a 4-character inbox', { ...SERVICE_REPLICATED, inbox: '_p.A' }],
  ['+ Lsn, Xid, Position (nats.headers all)', { ...SERVICE_REPLICATED, transaction: true }],
  ['the same as a replicated stream, a PubAck per 128 messages', { ...SERVICE_REPLICATED, ackEvery: 128 }],
  ['id chain (Expected-Last-Msg-Id), every PubAck', { ...SERVICE_DEFAULT, ackEvery: 1 }],
  ['id chain, a PubAck per 128: the service to a stream of one replica', SERVICE_DEFAULT],
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { messages: { type: 'string' }, rounds: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const n = wholeNumber('messages', values.messages, 200_000, USAGE);
  const rounds = wholeNumber('rounds', values.rounds, 3, USAGE);
  const sample = sampleEvents('bench_large', 10_000, new ChangeSet('bench_large', 500_000).seed);
  const s = await startBenchServers();
  try {
    await rawPublish(s, { sample, n: 20_000, window: WINDOW, shape: BARE, label: 'shape_warmup' });
    const rates = SHAPES.map(() => [] as number[]);
    const micros = SHAPES.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < SHAPES.length; k++) {
        const i = (k + round) % SHAPES.length;
        const [name, shape] = SHAPES[i]!;
        const t = await rawPublish(s, { sample, n, window: WINDOW, shape, label: `shape_${i}` });
        rates[i]!.push(storedRate(n, t));
        micros[i]!.push(((t.cpu['nats-server'] ?? NaN) / n) * 1e6);
        process.stderr.write(`round ${round + 1}: ${name}: ${Math.round(storedRate(n, t))} msgs/s\n`);
      }
    }
    const bare = median(rates[0]!);
    const rows = SHAPES.map(([name], i) => [
      name,
      Math.round(median(rates[i]!)).toLocaleString('en-US'),
      (median(rates[i]!) / bare).toFixed(2),
      median(micros[i]!).toFixed(1),
      rates[i]!.map((r) => Math.round(r).toLocaleString('en-US')).join(' '),
    ]);
    console.log(
      `npm run bench:shapes -- --messages ${n} --rounds ${rounds}: ${n.toLocaleString('en-US')} messages of ` +
        `${Math.round(sample.reduce((a, m) => a + m.data.length, 0) / sample.length)} bytes per run, window ${WINDOW}, file store, nats-server ${s.natsVersion}\n`,
    );
    console.log(
      formatTable(['shape', 'msgs/s (median)', '× bare', 'nats-server µs CPU/msg', 'each run'], rows, [
        false,
        true,
        true,
        true,
        false,
      ]),
    );
  } finally {
    await s.dispose();
  }
}

main().catch((error: unknown) => {
  console.error('bench:shapes failed:', error);
  process.exitCode = 1;
});
