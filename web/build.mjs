// Builds the dashboard and the demo page (Preact + esbuild) into dist/web/{name}/: hashed
// app-XXXXXXXX.js/.css, an index.html naming them, and the page's public/ files as they are.
import { build } from 'esbuild';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

async function buildPage(name) {
  const source = join(root, 'web', name);
  const outdir = join(root, 'dist', 'web', name);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: { app: join(source, 'main.tsx') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: true,
    entryNames: '[name]-[hash]',
    outdir,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
  const script = outputs.find((file) => file.endsWith('.js'));
  const style = outputs.find((file) => file.endsWith('.css'));
  if (!script || !style) throw new Error(`${name}: esbuild wrote no script or no stylesheet (${outputs.join(', ')})`);
  const template = await readFile(join(source, 'index.html'), 'utf8');
  const html = template.replaceAll('%SCRIPT%', `/${name}/${script}`).replaceAll('%STYLE%', `/${name}/${style}`);
  await writeFile(join(outdir, 'index.html'), html);
  if (existsSync(join(source, 'public'))) await cp(join(source, 'public'), outdir, { recursive: true });
  let bytes = 0;
  for (const [file, output] of Object.entries(result.metafile.outputs)) if (!file.endsWith('.map')) bytes += output.bytes;
  process.stdout.write(`web: ${name} -> dist/web/${name}/ (${script}, ${style}; ${(bytes / 1024).toFixed(1)} KB before gzip)\n`);
}

for (const name of ['dashboard', 'demo']) await buildPage(name);
