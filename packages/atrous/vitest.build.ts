// Compiles src/ to dist/ before the tests when a source is newer than the build, so that the tests (and
// the pool's workers, which run dist/pool/worker-entry.js) run current code. Skipping an up-to-date build
// also keeps dist/ from being rewritten under workers that other test runs are starting.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) t = Math.max(t, statSync(path).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const root = fileURLToPath(new URL('.', import.meta.url));
  let built = 0;
  try {
    built = statSync(join(root, 'dist', 'index.js')).mtimeMs;
  } catch {
    // not built yet
  }
  const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs, statSync(join(root, 'package.json')).mtimeMs);
  if (built > sources) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
}
