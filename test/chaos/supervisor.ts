/**
 * Keeps one pgwalstreams process running for a chaos run, as an orchestrator would: the fault loop
 * kills or stops it and starts it again; an exit nobody asked for is recorded (it is a finding)
 * and the process is started again after a second. The log of every process is appended to one
 * file of the run, so it outlives the process's temp dir.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceProcess, type Exit } from '../integration/harness/service.js';

/** An exit of pgwalstreams that the fault loop did not cause, or a stop that did not exit 0. */
export interface ServiceFailure {
  at: number;
  what: string;
  exit: Exit;
  tail: string;
}

export class ServiceSupervisor {
  private current: ServiceProcess | undefined;
  private expected = false;
  private stopped = false;
  private starts = 0;
  readonly failures: ServiceFailure[] = [];

  constructor(
    private readonly configFile: string,
    /** The run's log of every service process. */
    readonly logFile: string,
  ) {}

  /** Starts the process (again). */
  start(): void {
    const service = ServiceProcess.start({}, {}, this.configFile);
    this.current = service;
    this.starts++;
    const n = this.starts;
    void service.exited.then(async (exit) => {
      this.archive(service, n, exit);
      if (this.expected || this.stopped || this.current !== service) return;
      this.failures.push({ at: Date.now(), what: 'exited by itself', exit, tail: service.tail() });
      await sleep(1000);
      if (!this.stopped && this.current === service) this.start();
    });
  }

  /** The running process. */
  get process(): ServiceProcess {
    if (!this.current) throw new Error('pgwalstreams was never started');
    return this.current;
  }

  /** Waits until the running process logs that it replicates. */
  async replicating(timeoutMs = 30_000): Promise<void> {
    await this.process.waitForLog('replication started', timeoutMs);
  }

  /**
   * Sends `signal` and waits for the exit (a SIGTERM that does not end it within `timeoutMs` is
   * followed by SIGKILL and recorded). Returns the exit.
   */
  async signal(signal: 'SIGKILL' | 'SIGTERM', timeoutMs = 30_000): Promise<Exit> {
    const service = this.process;
    this.expected = true;
    try {
      service.kill(signal);
      const timer = setTimeout(() => service.kill('SIGKILL'), timeoutMs);
      const exit = await service.exited;
      clearTimeout(timer);
      if (signal === 'SIGTERM' && exit.code !== 0)
        this.failures.push({ at: Date.now(), what: 'SIGTERM did not exit 0', exit, tail: service.tail() });
      await service.dispose();
      return exit;
    } finally {
      this.expected = false;
    }
  }

  /** Stops the process for good with SIGTERM. */
  async stop(): Promise<Exit | undefined> {
    if (!this.current) return undefined;
    const exit = await this.signal('SIGTERM');
    this.stopped = true;
    return exit;
  }

  /** Kills whatever still runs (after a broken run). */
  async dispose(): Promise<void> {
    this.stopped = true;
    await this.current?.dispose(5_000);
  }

  private archive(service: ServiceProcess, n: number, exit: Exit): void {
    let text = '';
    try {
      text = readFileSync(join(service.dir, 'service.log'), 'utf8');
    } catch {
      // The process wrote nothing.
    }
    appendFileSync(
      this.logFile,
      `--- pgwalstreams process ${n} (pid ${service.pid}), exit ${JSON.stringify(exit)}\n${text}`,
    );
  }
}
