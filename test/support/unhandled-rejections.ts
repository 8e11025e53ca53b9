/**
 * Collects unhandled promise rejections while a test file runs. jest gives
 * each test file its own copy of `process`, but Node reports unhandled
 * rejections on the worker's real one: listen there.
 */
import vm from 'node:vm';

export interface RejectionWatch {
  /** the reasons seen so far */
  readonly reasons: readonly unknown[];
  stop(): void;
}

export function watchUnhandledRejections(): RejectionWatch {
  const workerProcess = vm.runInThisContext('process') as NodeJS.Process;
  const reasons: unknown[] = [];
  const collect = (reason: unknown): void => {
    reasons.push(reason);
  };
  workerProcess.on('unhandledRejection', collect);
  return { reasons, stop: () => workerProcess.off('unhandledRejection', collect) };
}
