/**
 * Parent side of an app under test: forks `app-process.ts` (through tsx),
 * waits for its port and turns the IPC protocol into typed async calls.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { AppConfig, Answers, CpuUsage, MemoryUsage, Message, Request, SessionStats } from './protocol.js';

type Query = Request['type'];

export interface AppHandle {
  readonly name: string;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  configure(config: AppConfig): Promise<void>;
  cpu(): Promise<CpuUsage>;
  memory(): Promise<MemoryUsage>;
  /** full GC in the child; false when it has no `--expose-gc` */
  gc(): Promise<boolean>;
  sessions(): Promise<SessionStats | null>;
  /** start a V8 CPU profile in the child */
  profileStart(): Promise<void>;
  /** stop it and write it to `path` */
  profileStop(path: string): Promise<void>;
  /** JSON of one signed-in session's data (express-session apps) */
  signedInSession(): Promise<string | null>;
  /** close the app's server and wait for the child to exit */
  close(): Promise<void>;
}

/** CPU time used, microseconds, between two readings. */
export function cpuDelta(before: CpuUsage, after: CpuUsage): number {
  return after.user - before.user + (after.system - before.system);
}

export async function startApp(name: string): Promise<AppHandle> {
  const execArgv = ['--import', 'tsx', '--expose-gc'];
  const child = fork(new URL('./app-process.ts', import.meta.url), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await firstPort(child, name);

  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  child.on('message', (message: Message) => {
    if (message.type === 'listening') return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.type === 'answer') waiter?.resolve(message.value);
    else waiter?.reject(new Error(`${name}: ${message.error}`));
  });
  child.once('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited (code ${code})`));
    pending.clear();
  });

  function ask<T extends Query>(request: Omit<Extract<Request, { type: T }>, 'id'>): Promise<Answers[T]> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...request, id });
    });
  }

  return {
    name,
    origin: `http://127.0.0.1:${port}`,
    configure: async (config) => {
      await ask<'configure'>({ type: 'configure', config });
    },
    cpu: () => ask<'cpu'>({ type: 'cpu' }),
    memory: () => ask<'memory'>({ type: 'memory' }),
    gc: () => ask<'gc'>({ type: 'gc' }),
    sessions: () => ask<'sessions'>({ type: 'sessions' }),
    signedInSession: () => ask<'signedInSession'>({ type: 'signedInSession' }),
    profileStart: async () => {
      await ask<'profileStart'>({ type: 'profileStart' });
    },
    profileStop: async (path) => {
      await ask<'profileStop'>({ type: 'profileStop', path });
    },
    close: async () => {
      if (child.connected) await ask<'shutdown'>({ type: 'shutdown' });
      await exited;
    },
  };
}

function firstPort(child: ChildProcess, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Message) => {
      if (message.type !== 'listening') return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message.port);
    };
    const onExit = (code: number | null) => reject(new Error(`${name} exited before listening (code ${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
