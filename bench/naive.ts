/**
 * The naive way, for contrast: each event published with `js.publish()` and awaited before the
 * next, as wal-listener publishes. One round trip per event, plus a promise, a timer and an
 * error object per call.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { msgIdFor, type Timed } from './ceilings.js';
import { CpuWatch, MachineCpuWatch } from './cpu.js';
import {
  createPhaseStream,
  deleteStream,
  phaseNames,
  type BenchServers,
  type SampleMessage,
} from './servers.js';

/** Publishes `n` of the sampled events (cycling) one awaited `js.publish()` at a time. */
export async function naivePublish(
  s: BenchServers,
  sample: readonly SampleMessage[],
  n: number,
): Promise<Timed> {
  const names = phaseNames('naive');
  await createPhaseStream(s, names);
  const nc = await connect({ servers: s.nats.url });
  try {
    const js = jetstream(nc);
    const nats = new CpuWatch(s.nats.pid!);
    const bench = process.cpuUsage();
    const machine = new MachineCpuWatch();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const m = sample[i % sample.length]!;
      await js.publish(`${names.prefix}.${m.subject}`, m.data, { msgID: msgIdFor('naive', i) });
    }
    const t1 = performance.now();
    const machineCpu = machine.stop();
    const used = process.cpuUsage(bench);
    return {
      seconds: (t1 - t0) / 1000,
      cpu: { 'nats-server': nats.stop(), 'bench (publisher)': (used.user + used.system) / 1e6 },
      machineCpu,
    };
  } finally {
    await nc.close();
    await deleteStream(s, names.stream);
  }
}
