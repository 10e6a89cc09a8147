/**
 * The layout shows the design: layers are checked by `npm run lint` (.dependency-cruiser.cjs); here, what
 * a dependency graph cannot say. Targets are thin entries (they only re-export); no source file is over
 * 500 lines; no comment quotes a timing (those live in BENCHMARKS.md, measured) or an uncommitted file; the
 * two design documents stay short.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });

describe('layout', () => {
  it('targets only re-export', () => {
    for (const f of files('targets')) {
      const code = readFileSync(f, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      const statements = code
        .split(/;\s*/)
        .map((s) => s.trim())
        .filter(Boolean);
      for (const s of statements) expect(s, f).toMatch(/^export (\*|\{[^}]*\}|type \{[^}]*\}) from '[^']+'$/);
    }
  });

  it('no source file is over 500 lines', () => {
    const long = files('src').filter((f) => readFileSync(f, 'utf8').split('\n').length > 500);
    expect(long).toEqual([]);
  });

  it('no comment quotes a timing or an uncommitted scratch file', () => {
    const found: string[] = [];
    for (const f of [...files('src'), ...files('targets')]) {
      const comments = readFileSync(f, 'utf8').match(/\/\*[\s\S]*?\*\/|\/\/.*$/gm) ?? [];
      for (const c of comments)
        if (/\b\d+(\.\d+)?\s?(us|µs|ns)\b|\b(about|cost|costs|took|takes)\b[^.]*?\b\d+(\.\d+)?\s?(ms|s)\b|\.scratch/.test(c))
          found.push(`${f}: ${c.replace(/\s+/g, ' ').slice(0, 120)}`);
    }
    expect(found).toEqual([]);
  });

  it('the documents stay documents: ARCHITECTURE.md under 15 KB, BENCHMARKS.md under 20 KB', () => {
    expect(statSync('ARCHITECTURE.md').size).toBeLessThan(15 * 1024);
    expect(statSync('BENCHMARKS.md').size).toBeLessThan(20 * 1024);
  });

  it('no document or comment points at an uncommitted file or outside the repository', () => {
    const docs = [
      'README.md',
      'ARCHITECTURE.md',
      'BENCHMARKS.md',
      ...readdirSync('docs')
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const sources = [...files('src'), ...files('targets'), ...files('sim'), ...files('bench'), ...files('examples')];
    const found = [...docs, ...sources].filter((f) => /\.scratch\/|\.\.\/shared\//.test(readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });
});
