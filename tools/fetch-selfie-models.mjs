#!/usr/bin/env node
// Fetch MediaPipe's two selfie segmenters (selfie_segmentation.tflite, [1, 256, 256, 3], and
// selfie_segmentation_landscape.tflite, [1, 144, 256, 3]) from the npm package
// @mediapipe/selfie_segmentation@0.1.1675465747 into models/selfie/ (git-ignored), with the licence and a
// provenance record (PROVENANCE.json: package, version, tarball integrity, sha256 of each file).
//
// The npm registry is the only source: `npm pack` takes the tarball from npm's cache when it is there
// (--prefer-offline) and checks it against the registry's integrity; this script checks it again against
// the sha512 pinned below, so a rerun, online or not, gives the same bytes. Idempotent: when PROVENANCE.json
// matches this package and every file still has its recorded sha256, nothing is fetched.
// The package declares Apache-2.0 in its package.json but ships no licence file, so LICENSE is the
// Apache-2.0 text from Debian (/usr/share/common-licenses/Apache-2.0), and PROVENANCE.json says so.
//
//   node tools/fetch-selfie-models.mjs [--out models/selfie] [--force]
// The last line on stdout is the folder.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@mediapipe/selfie_segmentation';
const VERSION = '0.1.1675465747';
/** The tarball's integrity as the npm registry publishes it (also pnpm-lock.yaml's). */
const INTEGRITY = 'sha512-IxYxNhwE5VwOm52L1yoFWYLP7q9Pd+NJjzOC5tlepfvEGaY3o9hslhUrx9BgseqdfZtKSDtd/4NfCSMjNzQalA==';
const MODELS = ['selfie_segmentation.tflite', 'selfie_segmentation_landscape.tflite'];
const LICENSE_TEXT = '/usr/share/common-licenses/Apache-2.0';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const force = args.includes('--force');
const outIndex = args.indexOf('--out');
const outDir = resolve(outIndex >= 0 ? args[outIndex + 1] : join(root, 'models/selfie'));
const provenancePath = join(outDir, 'PROVENANCE.json');
const workDir = join(outDir, `.fetch-${process.pid}`);

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const log = (msg) => process.stderr.write(`[fetch-selfie-models] ${msg}\n`);

/** True when the folder already holds this package's files, unchanged since they were recorded. */
function upToDate() {
  if (!existsSync(provenancePath) || !existsSync(join(outDir, 'LICENSE'))) return false;
  let record;
  try {
    record = JSON.parse(readFileSync(provenancePath, 'utf8'));
  } catch {
    return false;
  }
  if (record.package !== PACKAGE || record.version !== VERSION || record.integrity !== INTEGRITY) return false;
  return MODELS.every((name) => {
    const path = join(outDir, name);
    return existsSync(path) && record.files?.[name]?.sha256 === sha256(readFileSync(path));
  });
}

function unpackedPackage() {
  mkdirSync(workDir, { recursive: true });
  log(`npm pack ${PACKAGE}@${VERSION} (about 4 MB)`);
  // --ignore-scripts: run nothing from the package.
  const out = execFileSync('npm', ['pack', `${PACKAGE}@${VERSION}`, '--prefer-offline', '--ignore-scripts', '--loglevel=error', '--json', '--pack-destination', workDir], {
    cwd: workDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [{ filename }] = JSON.parse(out);
  const tarball = join(workDir, filename.replace(/^.*\//, ''));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (integrity !== INTEGRITY) throw new Error(`${tarball}: integrity ${integrity}, expected ${INTEGRITY}`);
  execFileSync('tar', ['xzf', tarball, '-C', workDir], { stdio: 'inherit' });
  return join(workDir, 'package');
}

function main() {
  if (!force && upToDate()) {
    console.log(outDir);
    return;
  }
  if (!existsSync(LICENSE_TEXT)) throw new Error(`${LICENSE_TEXT} is missing (Debian's base-files provides it)`);
  const pkg = unpackedPackage();
  const meta = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  if (meta.name !== PACKAGE || meta.version !== VERSION) throw new Error(`expected ${PACKAGE}@${VERSION} in ${pkg}, found ${meta.name}@${meta.version}`);
  if (meta.license !== 'Apache-2.0') throw new Error(`${PACKAGE}@${VERSION} no longer declares Apache-2.0 (license: ${JSON.stringify(meta.license)})`);
  mkdirSync(outDir, { recursive: true });
  const files = {};
  for (const name of MODELS) {
    const bytes = readFileSync(join(pkg, name));
    // Written under a temporary name and renamed: a reader never sees half a model.
    const tmp = join(outDir, `${name}.${process.pid}.tmp`);
    writeFileSync(tmp, bytes);
    renameSync(tmp, join(outDir, name));
    files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
    log(`${name}: ${bytes.length} bytes, sha256 ${files[name].sha256}`);
  }
  copyFileSync(LICENSE_TEXT, join(outDir, 'LICENSE'));
  const record = {
    package: PACKAGE,
    version: VERSION,
    registry: 'https://registry.npmjs.org/',
    tarball: `https://registry.npmjs.org/${PACKAGE}/-/selfie_segmentation-${VERSION}.tgz`,
    integrity: INTEGRITY,
    license: 'Apache-2.0',
    licenseNote: `package.json declares Apache-2.0 (copyright Google LLC); the package ships no licence file, so LICENSE is the Apache-2.0 text from ${LICENSE_TEXT}`,
    homepage: meta.homepage,
    files,
  };
  writeFileSync(provenancePath, `${JSON.stringify(record, null, 2)}\n`);
  console.log(outDir);
}

try {
  main();
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
