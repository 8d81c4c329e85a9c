/**
 * @module
 * YAML as dcmgr's `.yml` answers came out of Ruby's Psych: a `---` document in block style, hash keys as Ruby
 * symbols (`:state: running`), sequences not indented under their key, nil as nothing. mussel and its acceptance
 * tests read these answers line by line (`egrep "^:state:"`), so the layout is part of the API. Only JSON data is
 * written (what the presenters return), which keeps this small and fast: a general YAML library took about 0.2 ms
 * per instance here.
 */

/**
 * The YAML document Psych would write for `data`, with every hash key as a symbol.
 *
 * @example
 * toPsychYaml({ id: 'i-4cnb8vd1', state: 'running', host_node: null })
 * // '---\n:id: i-4cnb8vd1\n:state: running\n:host_node:\n'
 */
export function toPsychYaml(data: unknown): string {
  const out: string[] = ['---'];
  if (isCollection(data) && !isEmpty(data)) write(data, '', out, false);
  else out[0] = `--- ${valueText(data as Json)}`;
  return `${out.join('\n')}\n`;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isCollection = (v: unknown): v is Json[] | Record<string, Json> => typeof v === 'object' && v !== null;
const isEmpty = (v: Json[] | Record<string, Json>) => (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0);

/**
 * Writes a non-empty collection at `indent`. `inline` means its first line continues the `- ` of a sequence item.
 */
function write(v: Json[] | Record<string, Json>, indent: string, out: string[], inline: boolean): void {
  let first = inline;
  const line = (text: string) => {
    if (first) {
      out[out.length - 1] += text;
      first = false;
    } else out.push(indent + text);
  };
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isCollection(item) && !isEmpty(item)) {
        line('- ');
        write(item, `${indent}  `, out, true);
      } else line(item === null ? '-' : `- ${valueText(item)}`);
    }
    return;
  }
  for (const [key, item] of Object.entries(v)) {
    const name = `:${key}:`;
    if (isCollection(item) && !isEmpty(item)) {
      line(name);
      // Psych writes a sequence under its key without indenting it; a hash one level in.
      write(item, Array.isArray(item) ? indent : `${indent}  `, out, false);
    } else line(item === null ? name : `${name} ${valueText(item)}`);
  }
}

function valueText(v: Json): string {
  if (Array.isArray(v)) return '[]';
  if (typeof v === 'object' && v !== null) return '{}';
  return scalar(v);
}

/** Plain scalars Psych would read back as something else, so it quotes them (YAML 1.1 booleans and nulls). */
const SPECIAL = /^(?:~|null|true|false|yes|no|on|off|y|n)$/i;
const NUMBER = /^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^0x[0-9a-f]+$|^0o?[0-7]+$|^[-+]?\.(?:inf|nan)$/i;
/** Characters that may not begin a plain scalar, and sequences that may not appear in one. */
const INDICATOR_START = /^[-?:,[\]{}#&*!|>'"%@`\s]/;
const BREAKS_PLAIN = /: |:$| #|[\x00-\x1f\x7f]|\s$/;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s === '' || SPECIAL.test(s) || NUMBER.test(s) || INDICATOR_START.test(s) || BREAKS_PLAIN.test(s)) {
    // YAML's double-quoted style takes JSON's escapes.
    return JSON.stringify(s);
  }
  return s;
}
