/**
 * pgwalstreams spawned for a timed phase: the clock, the CPU of the service, nats-server, the
 * bench itself and the machine all start at the spawn, and `stop` reads them at the end.
 */
import { ServiceProcess } from '../test/integration/harness/service.js';
import type { Timed } from './ceilings.js';
import { CpuWatch, MachineCpuWatch } from './cpu.js';
import type { BenchServers } from './servers.js';

export class TimedService {
  readonly service: ServiceProcess;
  /** `performance.now()` at the spawn. */
  readonly t0: number;
  private readonly nats: CpuWatch;
  private readonly bench = process.cpuUsage();
  private readonly machine = new MachineCpuWatch();
  private readonly serviceCpu: CpuWatch;
  private gone = false;

  /** Spawns the service on `config`; `during` names the phase in the error if it exits. */
  constructor(
    s: BenchServers,
    config: Record<string, unknown>,
    private readonly during: string,
  ) {
    this.nats = new CpuWatch(s.nats.pid!);
    this.t0 = performance.now();
    this.service = ServiceProcess.start(config);
    void this.service.exited.then(() => (this.gone = true));
    this.serviceCpu = new CpuWatch(this.service.pid, { bornInside: true });
  }

  /** For `waitForStream`: what to throw when the service exited. */
  readonly stillRunning = (): string | undefined =>
    this.gone ? `pgwalstreams exited during ${this.during}:\n${this.service.tail()}` : undefined;

  /** The phase from the spawn to `t1`, with the CPU of the service, nats-server, the bench and `others`. */
  stop(t1: number, others: Record<string, CpuWatch | CpuWatch[]> = {}): Timed {
    const machineCpu = this.machine.stop();
    const used = process.cpuUsage(this.bench);
    const cpu: Record<string, number> = { pgwalstreams: this.serviceCpu.stop() };
    for (const [name, w] of Object.entries(others))
      cpu[name] = Array.isArray(w) ? w.reduce((a, x) => a + x.stop(), 0) : w.stop();
    cpu['nats-server'] = this.nats.stop();
    cpu['bench'] = (used.user + used.system) / 1e6;
    return { seconds: (t1 - this.t0) / 1000, machineCpu, cpu };
  }
}
