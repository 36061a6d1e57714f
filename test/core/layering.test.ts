// The seams between core and plugins: nothing in core/ imports a plugin, and plugins reach core only through `burrow`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface ImportSite {
  /** `core/cli/main.ts:3`, relative to the repository. */
  where: string;
  specifier: string;
  /** Where a relative specifier points, relative to the repository; undefined for a package name. */
  target?: string;
}

function tsFiles(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .sort();
}

// Static imports and re-exports (over several lines too), side-effect imports, and dynamic import('...').
const IMPORT = /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"]+)\1|\bimport\s*(['"])([^'"]+)\3|\bimport\s*\(\s*(['"])([^'"]+)\5\s*\)/g;

function importsOf(file: string): ImportSite[] {
  return importsIn(readFileSync(path.join(ROOT, file), 'utf8'), file);
}

function importsIn(text: string, file: string): ImportSite[] {
  const sites: ImportSite[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[2] ?? match[4] ?? match[6]!;
    const line = text.slice(0, match.index + match[0].lastIndexOf(specifier)).split('\n').length;
    const target = specifier.startsWith('.') ? path.relative(ROOT, path.resolve(ROOT, path.dirname(file), specifier)) : undefined;
    sites.push({ where: `${file}:${line}`, specifier, target });
  }
  return sites;
}

const inside = (target: string | undefined, folder: string) => target !== undefined && (target === folder || target.startsWith(`${folder}${path.sep}`));

function report(offences: string[], rule: string): void {
  assert.equal(offences.length, 0, `${rule}:\n${offences.map((offence) => `  ${offence}`).join('\n')}`);
}

describe('layering', () => {
  it('the scanner finds static, multi-line, type-only, re-exported, side-effect and dynamic imports, with their lines', () => {
    const source = [
      "import { a } from '../../plugins/a/index.ts';",
      'import {',
      '  b,',
      "} from '../../plugins/b/index.ts';",
      "import type { C } from 'burrow';",
      "export { d } from './d.ts';",
      "import 'reflect-metadata';",
      "const e = await import('../../plugins/e/index.ts');",
    ].join('\n');
    assert.deepEqual(
      importsIn(source, 'core/cli/x.ts').map((site) => [site.where, site.target ?? site.specifier]),
      [
        ['core/cli/x.ts:1', path.join('plugins', 'a', 'index.ts')],
        ['core/cli/x.ts:4', path.join('plugins', 'b', 'index.ts')],
        ['core/cli/x.ts:5', 'burrow'],
        ['core/cli/x.ts:6', path.join('core', 'cli', 'd.ts')],
        ['core/cli/x.ts:7', 'reflect-metadata'],
        ['core/cli/x.ts:8', path.join('plugins', 'e', 'index.ts')],
      ],
    );
  });

  it('nothing under core/ imports from plugins/ (core must build with every plugin folder removed)', () => {
    const offences = tsFiles('core')
      .flatMap(importsOf)
      .filter((site) => inside(site.target, 'plugins'))
      .map((site) => `${site.where} imports ${site.specifier}`);
    report(offences, 'core/ imports plugins; move the code into the plugin, or have the plugin provide it through a hook or a service');
  });

  it("plugins import Burrow only as 'burrow' or 'burrow/testing', never core/ files", () => {
    const offences = tsFiles('plugins')
      .flatMap(importsOf)
      .filter((site) => inside(site.target, 'core'))
      .map((site) => `${site.where} imports ${site.specifier}`);
    report(offences, "plugins reach into core/; import from 'burrow' (core/index.ts) instead, and export what is missing there");
  });
});
