/**
 * Best-effort cleanup of servers when a test process ends without disposing them: an uncaught
 * error, a failed `before()`, or the test runner stopping the file with a signal. Without it, each
 * crashed run would leave a PostgreSQL and a nats-server running in the background.
 *
 * Cleanups run synchronously (an exiting process cannot wait for promises), so they kill with
 * SIGKILL and remove temp dirs with `rmSync`. A process killed with SIGKILL itself cannot clean up.
 */

const cleanups = new Set<() => void>();
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/** Runs `cleanup` when the process exits; returns a function that unregisters it. */
export function onProcessExit(cleanup: () => void): () => void {
  install();
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

function runAll(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Best effort: one failed cleanup must not keep the others from running.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runAll);
  for (const signal of signals) {
    process.once(signal, () => {
      runAll();
      // If nobody else handles this signal (the test runner may), die of it as if we had never
      // listened: without listeners, the re-raised signal gets its default action.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
