/**
 * Where an app's CPU time went, from a V8 `.cpuprofile` written by
 * `npm run bench -- --profile`: self time by package and by function, and
 * inclusive time of the functions that matter most.
 *
 *   npx tsx bench/profile-summary.ts bench/profiles/b-ours.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

/** `node_modules/<pkg>`, `lib/`, `bench/`, `node:internal`, or V8's own pseudo-frames. */
export function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module?.[1] !== undefined) return module[1];
  if (url.startsWith('node:')) return 'node: core';
  const own = /\/(lib|bench|test)\//.exec(url);
  return own?.[1] !== undefined ? `${own[1]}/` : url;
}

function label(frame: CallFrame): string {
  const file = frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(lib|bench|test)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

export interface Summary {
  totalMs: number;
  idleMs: number;
  byPackage: [string, number][];
  byFunction: [string, number][];
  inclusive: [string, number][];
}

export function summarise(profile: CpuProfile, top = 25): Summary {
  const totalSamples = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const msPerSample = totalSamples === 0 ? 0 : (profile.endTime - profile.startTime) / 1000 / totalSamples;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();

  for (const node of profile.nodes) {
    const ms = (node.hitCount ?? 0) * msPerSample;
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    byFunction.set(label(node.callFrame), (byFunction.get(label(node.callFrame)) ?? 0) + ms);
  }

  // inclusive time: walk down from the root, counting a function once per stack even when it recurses
  const root = profile.nodes[0];
  const walk = (node: ProfileNode, onStack: Set<string>): number => {
    let ms = (node.hitCount ?? 0) * msPerSample;
    const key = label(node.callFrame);
    const fresh = !onStack.has(key);
    if (fresh) onStack.add(key);
    for (const childId of node.children ?? []) {
      const child = byId.get(childId);
      if (child) ms += walk(child, onStack);
    }
    if (fresh) {
      onStack.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
    return ms;
  };
  if (root) walk(root, new Set());

  const sorted = (map: Map<string, number>) => [...map].sort((x, y) => y[1] - x[1]);
  return {
    totalMs: totalSamples * msPerSample,
    idleMs: byPackage.get('(idle)') ?? 0,
    byPackage: sorted(byPackage),
    byFunction: sorted(byFunction).slice(0, top),
    inclusive: sorted(inclusive).filter(([key]) => !key.startsWith('(root)') && !key.startsWith('(program)')).slice(0, top),
  };
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (file === undefined) {
    console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]');
    process.exitCode = 2;
    return;
  }
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(topArg ?? 25));
  // shares of the time the process was busy, not of the whole (mostly idle) run
  const busyMs = summary.totalMs - summary.idleMs;
  const pct = (ms: number) => `${((100 * ms) / busyMs).toFixed(1).padStart(5)} %`;
  console.log(`${file}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy; shares of busy time\n\nself time by package`);
  for (const [pkg, ms] of summary.byPackage) if (pkg !== '(idle)' && ms / busyMs >= 0.002) console.log(`${pct(ms)}  ${pkg}`);
  console.log('\nself time by function');
  for (const [fn, ms] of summary.byFunction) if (!fn.startsWith('(idle)')) console.log(`${pct(ms)}  ${fn}`);
  console.log('\ninclusive time by function');
  for (const [fn, ms] of summary.inclusive) if (!fn.startsWith('(idle)')) console.log(`${pct(ms)}  ${fn}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
