/**
 * Child process running one app under test on 127.0.0.1:0. It listens first
 * (the parent needs every app's port to register redirect URIs before the
 * provider starts), builds its app when told, and answers the parent's
 * questions about its own CPU, memory and sessions over IPC.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { buildApp, sessionStats, signedInSession } from './apps.js';
import type { BuiltApp } from './apps.js';
import type { Answers, Message, Request } from './protocol.js';

const server = http.createServer();
let built: BuiltApp | undefined;
let profiler: Session | undefined;

function send(message: Message): void {
  process.send?.(message);
}

async function answer(request: Request): Promise<Answers[keyof Answers]> {
  switch (request.type) {
    case 'configure':
      built = await buildApp(request.config);
      server.on('request', built.app);
      return null;
    case 'cpu':
      return process.cpuUsage();
    case 'memory': {
      const { rss, heapUsed, external } = process.memoryUsage();
      return { rss, heapUsed, external };
    }
    case 'gc':
      if (typeof gc !== 'function') return false;
      // twice: the first pass can leave weak/finalizable objects for the next
      gc();
      gc();
      return true;
    case 'sessions':
      return built?.store ? sessionStats(built.store) : null;
    case 'signedInSession':
      return built?.store ? signedInSession(built.store) : null;
    case 'profileStart':
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      // µs; V8's default of 1 ms sees too little of a request that takes a few hundred µs
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
      return null;
    case 'profileStop': {
      if (!profiler) throw new Error('no profile running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      await writeFile(request.path, JSON.stringify(profile));
      return null;
    }
    case 'shutdown':
      shutdown();
      return null;
  }
}

function shutdown(): void {
  server.close();
  server.closeAllConnections();
  // let the answer go out, then drop the channel: nothing keeps the process alive after that
  setImmediate(() => process.disconnect?.());
}

process.on('message', (request: Request) => {
  answer(request).then(
    (value) => send({ type: 'answer', id: request.id, value }),
    (err: unknown) => send({ type: 'failed', id: request.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
// the parent went away: don't linger
process.on('disconnect', () => {
  server.close();
  server.closeAllConnections();
});

server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  send({ type: 'listening', port: (server.address() as AddressInfo).port });
});
