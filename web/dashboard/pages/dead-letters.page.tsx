/**
 * Kafka: the consumer group's lag per partition (live through ingestStatusUpdated) and the dead
 * letters (records that could not be applied), with replay and discard. Shown when the gateway
 * has Kafka configured (ingestStatus is null otherwise).
 */
import { useRef, useState } from 'react';
import {
  DeadLettersDocument,
  DiscardDeadLetterDocument,
  IngestStatusUpdatedDocument,
  ReplayDeadLetterDocument,
  type DeadLetterFieldsFragment,
  type DeadLetterStatus,
  type IngestStatusFieldsFragment,
} from '../../../client/generated/graphql';
import type { JobwireError } from '../../../client/jobwire-client';
import { ErrorNotice, Note, PageHeader } from '../components/notice';
import { formatInt, formatTime } from '../lib/format';
import { useQuery, useSubscription } from '../lib/hooks';
import { href } from '../lib/router';
import { useSession } from '../lib/session';
import { Select } from './overview.page';

export function DeadLettersPage({ kafka }: { kafka: boolean }) {
  if (!kafka) {
    return (
      <>
        <PageHeader title="Dead letters" />
        <Note>Kafka is not configured on this gateway (KAFKA_BROKERS): there is no consumer lag and no dead letter to show.</Note>
      </>
    );
  }
  return <KafkaView />;
}

function KafkaView() {
  const { client } = useSession();
  const [ingest, setIngest] = useState<IngestStatusFieldsFragment | null>(null);
  const [status, setStatus] = useState<DeadLetterStatus | ''>('PENDING');
  const pending = useRef<number | null>(null);
  const letters = useQuery(DeadLettersDocument, { filter: status ? { status } : null, first: 100 });
  // Dead letters have no stream of their own; the consumer's status counts the pending ones, so
  // the list is read again when that count moves.
  const ingestError = useSubscription(IngestStatusUpdatedDocument, {}, ({ ingestStatusUpdated: next }) => {
    if (pending.current !== null && pending.current !== next.deadLettersPending) letters.reload();
    pending.current = next.deadLettersPending;
    setIngest(next);
  });
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<JobwireError | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const act = async (letter: DeadLetterFieldsFragment, action: 'replay' | 'discard') => {
    setBusy(letter.id);
    setError(null);
    try {
      const updated =
        action === 'replay'
          ? (await client.request(ReplayDeadLetterDocument, { id: letter.id })).replayDeadLetter
          : (await client.request(DiscardDeadLetterDocument, { id: letter.id })).discardDeadLetter;
      letters.setData((prev) =>
        prev
          ? {
              deadLetters: {
                ...prev.deadLetters,
                edges: prev.deadLetters.edges.map((e) => (e.node.id === updated.id ? { ...e, node: updated } : e)),
              },
            }
          : prev,
      );
    } catch (e) {
      setError(e as JobwireError);
    } finally {
      setBusy(null);
    }
  };

  const rows = letters.data?.deadLetters.edges.map((e) => e.node) ?? [];
  return (
    <>
      <PageHeader title="Dead letters" subtitle="Kafka records the gateways could not apply, and the consumer group's lag." />
      <ErrorNotice error={ingestError} prefix="Consumer status" />
      {ingest ? (
        <>
          <section className="stats" aria-label="Kafka consumer">
            <div className={`stat ${ingest.connected ? 'stat-ok' : 'stat-bad'}`} role="group" aria-label="Consumer">
              <div className="stat-label">Consumer</div>
              <div className="stat-value">{ingest.connected ? 'consuming' : 'paused'}</div>
            </div>
            <div className={`stat${ingest.totalLag ? ' stat-warn' : ''}`} role="group" aria-label="Total lag">
              <div className="stat-label">Total lag</div>
              <div className="stat-value">{formatInt(ingest.totalLag)}</div>
            </div>
            <div className="stat" role="group" aria-label="Applied per second">
              <div className="stat-label">Applied / s</div>
              <div className="stat-value">{formatInt(ingest.appliedPerSecond)}</div>
            </div>
            <div className={`stat${ingest.deadLettersPending ? ' stat-bad' : ''}`} role="group" aria-label="Pending dead letters">
              <div className="stat-label">Pending dead letters</div>
              <div className="stat-value">{formatInt(ingest.deadLettersPending)}</div>
            </div>
          </section>
          <section className="panel" aria-labelledby="lag-title">
            <div className="panel-header">
              <h2 id="lag-title">
                Consumer lag{' '}
                <span className="muted">
                  group {ingest.groupId} · {formatTime(ingest.updatedAt)}
                </span>
              </h2>
            </div>
            <table className="table" aria-label="Consumer lag">
              <thead>
                <tr>
                  <th scope="col">Topic</th>
                  <th scope="col">Partition</th>
                  <th scope="col" className="num">
                    Committed
                  </th>
                  <th scope="col" className="num">
                    End
                  </th>
                  <th scope="col" className="num">
                    Lag
                  </th>
                </tr>
              </thead>
              <tbody>
                {ingest.partitions.map((p) => (
                  <tr key={`${p.topic}:${p.partition}`}>
                    <td className="mono">{p.topic}</td>
                    <td className="num">{p.partition}</td>
                    <td className="num mono">{p.committedOffset ?? '—'}</td>
                    <td className="num mono">{p.endOffset}</td>
                    <td className={`num${p.lag ? ' warn' : ''}`}>{formatInt(p.lag)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      ) : null}

      <section className="panel" aria-labelledby="letters-title">
        <div className="panel-header">
          <h2 id="letters-title">
            Dead letters <span className="muted">{letters.data ? `${letters.data.deadLetters.totalCount} in all` : ''}</span>
          </h2>
          <div className="filters">
            <Select label="Status" value={status} onChange={(v) => setStatus(v as DeadLetterStatus | '')}>
              {['PENDING', 'REPLAYED', 'DISCARDED']}
            </Select>
          </div>
        </div>
        <ErrorNotice error={letters.error ?? error} />
        {rows.length === 0 ? (
          <div className="empty">{letters.loading ? 'Loading…' : 'No dead letter here.'}</div>
        ) : (
          <table className="table" aria-label="Dead letters">
            <thead>
              <tr>
                <th scope="col">Record</th>
                <th scope="col">Run</th>
                <th scope="col">Reason</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Seen
                </th>
                <th scope="col">Last seen</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <DeadLetterRow
                  key={d.id}
                  d={d}
                  open={open === d.id}
                  onToggle={() => setOpen(open === d.id ? null : d.id)}
                  busy={busy === d.id}
                  onAct={act}
                />
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

function DeadLetterRow(props: {
  d: DeadLetterFieldsFragment;
  open: boolean;
  onToggle: () => void;
  busy: boolean;
  onAct: (d: DeadLetterFieldsFragment, action: 'replay' | 'discard') => void;
}) {
  const { d } = props;
  return (
    <>
      <tr>
        <td className="mono small">
          <button className="link" onClick={props.onToggle} aria-expanded={props.open}>
            {d.topic}[{d.partition}]@{d.offset}
          </button>
        </td>
        <td>{d.runId ? <a href={href.run(d.runId)}>{d.runId.slice(0, 8)}</a> : <span className="muted">—</span>}</td>
        <td className="error-cell" title={d.reason}>
          {d.reason}
        </td>
        <td>
          <span className={`badge badge-${d.status === 'PENDING' ? 'bad' : d.status === 'REPLAYED' ? 'ok' : 'muted'}`}>{d.status}</span>
        </td>
        <td className="num">{d.timesSeen}</td>
        <td className="nowrap">{formatTime(d.lastSeenAt)}</td>
        <td className="row-actions">
          {d.status === 'PENDING' ? (
            <>
              <button
                className="btn btn-small"
                disabled={props.busy}
                onClick={() => props.onAct(d, 'replay')}
                aria-label={`Replay ${d.topic} offset ${d.offset}`}
              >
                Replay
              </button>
              <button
                className="btn btn-small btn-ghost"
                disabled={props.busy}
                onClick={() => props.onAct(d, 'discard')}
                aria-label={`Discard ${d.topic} offset ${d.offset}`}
              >
                Discard
              </button>
            </>
          ) : null}
        </td>
      </tr>
      {props.open ? (
        <tr className="details-row">
          <td colSpan={7}>
            <pre className="details">{JSON.stringify(d.payload, null, 2)}</pre>
          </td>
        </tr>
      ) : null}
    </>
  );
}
