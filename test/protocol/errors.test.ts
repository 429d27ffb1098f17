import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterUnavailableError, ErrorCode, Errors, HttpError, ProtocolError, RegisteredError } from '../../src/protocol/errors.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const entries = Object.entries(Errors);
const pusherCodes = new Set<number>(Object.values(ErrorCode));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** A line without its comment and string literals: what is left is code (a literal Pusher code there would bypass the registry). */
function codeOnly(line: string): string {
  if (/^\s*(\*|\/\*\*|\/\/)/.test(line)) return '';
  return line.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''").replace(/\/\/.*$/, '');
}

describe('the error registry', () => {
  it('gives every error a unique code', () => {
    const codes = entries.map(([, definition]) => definition.code);
    assert.equal(new Set(codes).size, codes.length, `duplicate codes: ${codes.filter((code, i) => codes.indexOf(code) !== i).join(', ')}`);
    for (const code of codes) assert.match(code, /^[a-z]+(_[a-z]+)*$/);
  });

  it('documents every code in docs/protocol.md or docs/inbox.md', () => {
    const docs = ['docs/protocol.md', 'docs/inbox.md'].map((file) => readFileSync(join(root, file), 'utf8')).join('\n');
    const missing = entries.map(([, definition]) => definition.code).filter((code) => !docs.includes(`\`${code}\``));
    assert.deepEqual(missing, []);
  });

  it('says how each error reaches the client, and builds errors of its own entry', () => {
    for (const [name, definition] of entries) {
      assert.ok(definition.pusherCode !== undefined || definition.status !== undefined, `${name} reaches the client neither way`);
      if (typeof definition.pusherCode === 'number') assert.ok(pusherCodes.has(definition.pusherCode), `${name}: ${definition.pusherCode} is no Pusher code`);
      if (definition.closes) assert.equal(typeof definition.pusherCode, 'number', `${name} closes without a close code`);
      if (definition.status !== undefined) assert.ok(definition.status >= 400 && definition.status < 600, name);
      const error = (definition as (...args: unknown[]) => RegisteredError)('x', 1);
      assert.ok(error instanceof RegisteredError, name);
      assert.equal(error.code, definition.code, name);
      assert.ok(error.message.length > 0, name);
      if (error instanceof ProtocolError) assert.equal(error.pusherCode, definition.pusherCode, name);
      if (error instanceof HttpError) assert.equal(error.status, definition.status, name);
    }
  });

  it('is the only source of errors sent to clients: no error is made outside it', () => {
    // The client SDK reads codes, it does not send them.
    const server = sourceFiles(join(root, 'src')).filter((file) => !file.includes(join('src', 'client')) && !file.endsWith(join('protocol', 'errors.ts')));
    const adHoc = server.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => codeOnly(line))
        .filter((code) => /new (ProtocolError|HttpError|RegisteredError)\(/.test(code) || [...code.matchAll(/\b\d{4}\b/g)].some(([n]) => pusherCodes.has(Number(n))))
        .map((code) => `${file.slice(root.length + 1)}: ${code.trim()}`),
    );
    assert.deepEqual(adHoc, []);
  });

  it('keeps ClusterUnavailableError apart from HTTP errors, answered 503 by its entry', () => {
    const error = Errors.clusterUnavailable('Redis is unavailable');
    assert.ok(error instanceof ClusterUnavailableError);
    assert.ok(!(error instanceof HttpError));
    assert.deepEqual([error.code, error.definition.status, error.definition.pusherCode], ['cluster_unavailable', 503, null]);
  });
});
