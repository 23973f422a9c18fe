/**
 * The live log viewer: a level filter (applied by the gateway), a text search (over the lines
 * here, highlighted), following the tail (on until you scroll up; back on at the bottom), and a
 * note of the lines the gateway shed because this page fell behind.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactElement } from 'react';
import type { LogLevel } from '../../../client/generated/graphql';
import type { LogLine } from '../lib/run-live';

const LEVELS: LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
/** Lines drawn at once (the newest matching ones); the rest stay in memory for the search. */
const SHOWN = 1500;

interface Props {
  lines: LogLine[];
  droppedLines: number;
  minLevel: LogLevel;
  onMinLevel: (level: LogLevel) => void;
}

export function LogViewer({ lines, droppedLines, minLevel, onMinLevel }: Props) {
  const [search, setSearch] = useState('');
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const needle = search.trim().toLowerCase();
  const matching = useMemo(() => (needle ? lines.filter((l) => l.message.toLowerCase().includes(needle)) : lines), [lines, needle]);
  const shown = matching.length > SHOWN ? matching.slice(matching.length - SHOWN) : matching;

  useLayoutEffect(() => {
    const el = box.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [shown, follow]);

  // Scrolling up stops following; scrolling back to the bottom resumes it.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const onScroll = () => setFollow(el.scrollHeight - el.scrollTop - el.clientHeight < 24);
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => el.removeEventListener('scroll', onScroll);
  }, []);

  return (
    <section className="panel logs" aria-labelledby="logs-title">
      <div className="panel-header">
        <h2 id="logs-title">
          Logs{' '}
          <span className="muted">
            {needle ? `${matching.length} of ${lines.length} lines` : `${lines.length} lines`}
            {droppedLines ? ` · ${droppedLines} shed` : ''}
          </span>
        </h2>
        <div className="filters">
          <label className="filter">
            <span>Level</span>
            <select value={minLevel} onChange={(e) => onMinLevel(e.target.value as LogLevel)}>
              {LEVELS.map((l) => (
                <option key={l} value={l}>
                  {l} and above
                </option>
              ))}
            </select>
          </label>
          <label className="filter filter-search">
            <span>Search logs</span>
            <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="Text in the message" />
          </label>
          <label className="filter filter-check">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow tail
          </label>
        </div>
      </div>
      {droppedLines ? (
        <div className="notice notice-warn" role="status">
          {droppedLines} line{droppedLines === 1 ? ' was' : 's were'} shed while this page fell behind; they are stored (query Run.logs to
          read them).
        </div>
      ) : null}
      <div ref={box} className="log-box" role="log" aria-label="Run logs" aria-live="off" tabIndex={0}>
        {shown.length === 0 ? (
          <div className="muted log-empty">{lines.length ? 'No line matches the search.' : 'No log lines yet.'}</div>
        ) : (
          shown.map((l) => (
            <div key={l.seq} className={`log-line log-${l.level.toLowerCase()}`}>
              <span className="log-time">{l.timestamp.slice(11, 23)}</span>
              <span className="log-level">{l.level}</span>
              {l.source ? <span className="log-source">{l.source}</span> : null}
              <span className="log-message">{needle ? highlight(l.message, needle) : l.message}</span>
            </div>
          ))
        )}
      </div>
    </section>
  );
}

function highlight(text: string, needle: string) {
  const parts: (string | ReactElement)[] = [];
  const lower = text.toLowerCase();
  let from = 0;
  for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, from)) {
    parts.push(text.slice(from, i), <mark key={i}>{text.slice(i, i + needle.length)}</mark>);
    from = i + needle.length;
  }
  parts.push(text.slice(from));
  return parts;
}
