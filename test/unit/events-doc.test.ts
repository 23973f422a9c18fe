/**
 * docs/events.md is the Kafka contract as jobwire implements it: every example in it parses with
 * the schema in code, and every public event type, command and the dead-letter headers have one.
 * The shared contract (`../shared/design/events.md`, when it is checked out beside the repository)
 * is contained in it: each of its examples parses, and each of its rules is in the copy — so a
 * change of the shared one fails here until the copy (and the schema) follow it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  EXTERNAL_EVENT_TYPES,
  INTERNAL_EVENT_TYPES,
  KAFKA_TOPICS,
  parseDeadLetterHeaders,
  parseRunCommand,
  parseRunEvent,
  runCommandSchema,
} from '../../src/events/run-event.schema';

const DOCS = path.resolve(__dirname, '../../docs/events.md');
const SHARED = path.resolve(__dirname, '../../../shared/design/events.md');
const EVENT_TYPES: readonly string[] = [...EXTERNAL_EVENT_TYPES, ...INTERNAL_EVENT_TYPES];
const KINDS = ['event', 'internal-event', 'payload', 'command', 'dead-letter-headers'] as const;
type Kind = (typeof KINDS)[number];

interface Example {
  /** `docs/events.md:42`, for test names and failures. */
  where: string;
  kind: Kind | undefined;
  /** The event type of a `payload <type>` example. */
  type?: string;
  json: string;
}

const lineOf = (md: string, index: number) => md.slice(0, index).split('\n').length;

/** The fenced ```json blocks, with what their info string says they are (`json payload run.log`). */
function fencedExamples(md: string, file: string): Example[] {
  return [...md.matchAll(/^```json([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => {
    const [kind, type] = m[1].trim().split(/\s+/);
    return { where: `${file}:${lineOf(md, m.index)}`, kind: KINDS.find((k) => k === kind), type, json: m[2] };
  });
}

/** Top-level bullets (`- …` and their indented continuation lines), each joined into one line. */
function bullets(md: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  md.split('\n').forEach((l, i) => {
    if (l.startsWith('- ')) out.push({ text: l.slice(2), line: i + 1 });
    else if (/^\s+\S/.test(l) && out.length && !md.split('\n')[i - 1].trim().startsWith('```')) out.at(-1)!.text += ` ${l.trim()}`;
    else if (!l.trim()) out.push({ text: '', line: -1 });
  });
  return out.filter((b) => b.text);
}

/**
 * The inline payload examples, from bullets that start with an event type (`- \`run.log\`: …`):
 * every code span in them that is a JSON object. An elided list `[ ... ]` stands for the example
 * before it in the same bullet (the log line before the batch form).
 */
function inlinePayloads(md: string, file: string): Example[] {
  const out: Example[] = [];
  for (const b of bullets(md)) {
    const type = /^`([a-z]+\.[a-z]+)`:/.exec(b.text)?.[1];
    if (!type) continue;
    const spans = [...b.text.matchAll(/`(\{[^`]*\})`/g)].map((m) => m[1]);
    spans.forEach((json, i) => {
      const resolved = i > 0 ? json.replace(/\[\s*(\.\.\.|…)\s*\]/g, `[${spans[i - 1]}]`) : json;
      out.push({ where: `${file}:${b.line}`, kind: 'payload', type, json: resolved });
    });
  }
  return out;
}

/** A string listing alternatives: `"QUEUED|RUNNING"`, `"run.status | run.log"`. */
const ALTERNATIVES = /^[\w.]+(\s*\|\s*[\w.]+)+$/;

/** One value per alternative: the i-th variant takes the i-th choice of every `A|B` string in `value`. */
function variants(value: unknown): unknown[] {
  let n = 1;
  const count = (v: unknown): void => {
    if (typeof v === 'string' && ALTERNATIVES.test(v)) n = Math.max(n, v.split('|').length);
    else if (v && typeof v === 'object') Object.values(v).forEach(count);
  };
  count(value);
  const pick = (v: unknown, i: number): unknown => {
    if (typeof v === 'string' && ALTERNATIVES.test(v)) {
      const choices = v.split('|').map((s) => s.trim());
      return choices[i % choices.length];
    }
    if (Array.isArray(v)) return v.map((x) => pick(x, i));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, pick(x, i)]));
    return v;
  };
  return Array.from({ length: n }, (_, i) => pick(value, i));
}

const isUuid = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(v);
type Obj = Record<string, unknown>;

/**
 * Every concrete event an example stands for: its alternatives spelled out, a uuid for a runId
 * placeholder, an eventId where it has none, and — for an envelope whose payload is left empty
 * (`"payload": { }`) — each inline payload example of its type.
 */
function eventsOf(example: Example, payloads: Example[]): Obj[] {
  const raw = JSON.parse(example.json) as Obj;
  const base = example.kind === 'payload' ? { type: example.type, payload: raw } : raw;
  return (variants(base) as Obj[]).flatMap((event) => {
    const ids: Obj = { ...event, runId: isUuid(event.runId) ? event.runId : crypto.randomUUID() };
    if (example.kind !== 'internal-event') ids.eventId ??= crypto.randomUUID();
    const emptyPayload = typeof ids.payload === 'object' && ids.payload !== null && Object.keys(ids.payload).length === 0;
    const fills = emptyPayload ? payloads.filter((p) => p.type === ids.type) : [];
    if (!fills.length) return [ids];
    return fills.flatMap((p) => (variants(JSON.parse(p.json)) as Obj[]).map((payload) => ({ ...ids, payload })));
  });
}

/** Parses an example as what it is; throws (naming the field) when it does not parse. */
function check(example: Example, payloads: Example[]): void {
  if (example.kind === 'command') parseRunCommand(JSON.parse(example.json));
  else if (example.kind === 'dead-letter-headers') parseDeadLetterHeaders(JSON.parse(example.json));
  else for (const event of eventsOf(example, payloads)) parseRunEvent(event, { external: example.kind !== 'internal-event' });
}

/** What the shared document's unmarked blocks are: a command has a commandId, an event a payload. */
const inferKind = (example: Example): Example => ({
  ...example,
  kind: example.kind ?? (/"commandId"/.test(example.json) ? 'command' : /"payload"/.test(example.json) ? 'event' : undefined),
});

/** The bullets of a `## <title>` section. */
function sectionBullets(md: string, title: string): string[] {
  const section = md.split(/^## /m).find((s) => s.startsWith(title)) ?? '';
  return bullets(section).map((b) => b.text);
}
const normalise = (s: string) => s.replace(/\s+/g, ' ').trim();

const docs = fs.readFileSync(DOCS, 'utf8');
const docsPayloads = inlinePayloads(docs, 'docs/events.md');
const docsExamples = [...fencedExamples(docs, 'docs/events.md'), ...docsPayloads];

describe('docs/events.md', () => {
  it('says what each fenced JSON example is (event, payload <type>, internal-event, command, dead-letter-headers)', () => {
    const unmarked = fencedExamples(docs, 'docs/events.md').filter(
      (e) => !e.kind || (e.kind === 'payload' && !EVENT_TYPES.includes(e.type ?? '')),
    );
    expect(unmarked.map((e) => e.where)).toEqual([]);
  });

  it.each(docsExamples.map((e) => [`${e.kind}${e.type ? ` ${e.type}` : ''} (${e.where})`, e] as const))('parses the %s example', (_, e) => {
    expect(() => check(e, docsPayloads)).not.toThrow();
  });

  it('has an example of every public event type, of both commands and of the dead-letter headers', () => {
    const events = docsExamples
      .filter((e) => e.kind !== 'command' && e.kind !== 'dead-letter-headers')
      .flatMap((e) => eventsOf(e, docsPayloads));
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(EVENT_TYPES));
    const commands = docsExamples.filter((e) => e.kind === 'command').map((e) => parseRunCommand(JSON.parse(e.json)).type);
    expect(new Set(commands)).toEqual(new Set(['start', 'stop']));
    expect(docsExamples.some((e) => e.kind === 'dead-letter-headers')).toBe(true);
  });

  it('names the default topics', () => {
    for (const topic of Object.values(KAFKA_TOPICS)) expect(docs).toContain(`| \`${topic}\` |`);
  });
});

(fs.existsSync(SHARED) ? describe : describe.skip)('the shared contract (../shared/design/events.md)', () => {
  const shared = fs.existsSync(SHARED) ? fs.readFileSync(SHARED, 'utf8') : '';
  const payloads = inlinePayloads(shared, 'shared/design/events.md');

  it('has examples that all parse', () => {
    const examples = [...fencedExamples(shared, 'shared/design/events.md').map(inferKind), ...payloads];
    expect(examples.filter((e) => !e.kind).map((e) => e.where)).toEqual([]);
    const failures = examples.flatMap((e) => {
      try {
        check(e, payloads);
        return [];
      } catch (err) {
        return [`${e.where}: ${(err as Error).message}`];
      }
    });
    expect(failures).toEqual([]);
    expect(payloads.length).toBeGreaterThan(0);
  });

  it('names only command fields the command schema knows', () => {
    const keys = new Set<string>();
    const collect = (schema: unknown): void => {
      const shape = (schema as { shape?: Record<string, unknown> }).shape;
      for (const [key, field] of Object.entries(shape ?? {})) {
        keys.add(key);
        collect(field);
      }
    };
    runCommandSchema.options.forEach(collect);
    const commands = sectionBullets(shared, 'Additions').find((b) => b.startsWith('Commands'));
    expect(commands).toBeDefined();
    // The example is a field list, not JSON: a name right after `{` or `,` is a field, one after `:` or `|` a value.
    const named = [...commands!.matchAll(/`(\{[^`]*\})`/g)].flatMap((m) => [...m[1].matchAll(/[{,]\s*"(\w+)"/g)].map((n) => n[1]));
    expect(named).toEqual(expect.arrayContaining(['commandId', 'attempt', 'job', 'filePattern', 'compute']));
    expect(named.filter((k) => !keys.has(k))).toEqual([]);
  });

  it('has every rule in docs/events.md', () => {
    const rules = [...sectionBullets(shared, 'Rules'), ...sectionBullets(shared, 'Additions')];
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.filter((r) => !normalise(docs).includes(normalise(r)))).toEqual([]);
  });
});
