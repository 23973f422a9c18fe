/**
 * The shell: signs in (only when the gateway asks for credentials), then the navigation and the
 * view of the current hash route.
 */
import { useEffect, useMemo, useState } from 'react';
import { IngestStatusDocument, MeDocument, type MeQuery } from '../../client/generated/graphql';
import { JobwireError } from '../../client/jobwire-client';
import { useQuery } from './lib/hooks';
import { href, useRoute, type Route } from './lib/router';
import { createSession, SessionContext, storedToken, storeToken, useSession, type Session } from './lib/session';
import { DeadLettersPage } from './pages/dead-letters.page';
import { JobPage } from './pages/job.page';
import { JobsPage } from './pages/jobs.page';
import { NewJobPage } from './pages/new-job.page';
import { OverviewPage } from './pages/overview.page';
import { RunPage } from './pages/run.page';
import { SignInPage } from './pages/sign-in.page';

type Gate =
  { state: 'checking' } | { state: 'in'; me: MeQuery['me'] } | { state: 'sign-in'; refused?: string } | { state: 'down'; error: string };

/** The whole app: the session, the sign-in gate and the signed-in layout. */
export function App() {
  const [session, setSession] = useState<Session>(() => createSession(storedToken()));
  const [gate, setGate] = useState<Gate>({ state: 'checking' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setGate({ state: 'checking' });
    session.client.request(MeDocument, {}).then(
      ({ me }) => current && setGate({ state: 'in', me }),
      (e: unknown) => {
        if (!current) return;
        const err = e instanceof JobwireError ? e : null;
        if (err?.code === 'UNAUTHENTICATED' || err?.status === 401) {
          setGate({ state: 'sign-in', refused: session.token ? err.message : undefined });
        } else {
          setGate({ state: 'down', error: err?.message ?? String(e) });
        }
      },
    );
    return () => {
      current = false;
    };
  }, [session, attempt]);

  useEffect(() => () => void session.client.close(), [session]);

  const signIn = (token: string) => {
    storeToken(token);
    setSession(createSession(token));
  };
  const signOut = () => {
    storeToken(undefined);
    setSession(createSession(undefined));
  };

  if (gate.state === 'checking') return <div className="splash">Connecting to jobwire…</div>;
  if (gate.state === 'sign-in') return <SignInPage onSubmit={signIn} refused={gate.refused} />;
  if (gate.state === 'down') {
    return (
      <div className="splash">
        <div className="notice notice-bad" role="alert">
          The gateway did not answer: {gate.error}
        </div>
        <button className="btn" onClick={() => setAttempt((a) => a + 1)}>
          Try again
        </button>
      </div>
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Layout me={gate.me} onSignOut={session.token ? signOut : undefined} />
    </SessionContext.Provider>
  );
}

function Layout({ me, onSignOut }: { me: MeQuery['me']; onSignOut?: () => void }) {
  const route = useRoute();
  const ingest = useQuery(IngestStatusDocument, {});
  const kafka = !!ingest.data?.ingestStatus;
  const section = useMemo(() => sectionOf(route), [route]);
  return (
    <div className="layout">
      <nav className="sidebar" aria-label="Main">
        <a className="brand" href={href.overview()}>
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          jobwire
        </a>
        <ul>
          <NavItem to={href.overview()} current={section === 'overview'} label="Overview" />
          <NavItem to={href.jobs()} current={section === 'jobs'} label="Jobs" />
          {kafka ? <NavItem to={href.deadLetters()} current={section === 'dead-letters'} label="Dead letters" /> : null}
          <li>
            <a href="./graphiql" className="nav-link">
              GraphiQL <span aria-hidden="true">↗</span>
            </a>
          </li>
        </ul>
        <div className="sidebar-footer">
          <div className="whoami" title="Signed in as">
            {me.subject} <span className="role">{me.role.toLowerCase()}</span>
          </div>
          {onSignOut ? (
            <button className="btn btn-ghost btn-small" onClick={onSignOut}>
              Sign out
            </button>
          ) : null}
        </div>
      </nav>
      <main className="content">
        <View route={route} kafka={kafka} />
      </main>
    </div>
  );
}

function NavItem({ to, current, label }: { to: string; current: boolean; label: string }) {
  return (
    <li>
      <a href={to} className={`nav-link${current ? ' nav-current' : ''}`} aria-current={current ? 'page' : undefined}>
        {label}
      </a>
    </li>
  );
}

const sectionOf = (route: Route) =>
  route.name === 'overview' || route.name === 'run' ? 'overview' : route.name === 'dead-letters' ? 'dead-letters' : 'jobs';

function View({ route, kafka }: { route: Route; kafka: boolean }) {
  useSession();
  switch (route.name) {
    case 'overview':
      return <OverviewPage />;
    case 'jobs':
      return <JobsPage />;
    case 'new-job':
      return <NewJobPage />;
    case 'job':
      return <JobPage key={route.id} id={route.id} />;
    case 'run':
      return <RunPage key={route.id} id={route.id} />;
    case 'dead-letters':
      return <DeadLettersPage kafka={kafka} />;
    default:
      return (
        <div className="notice">
          Nothing at <code>{route.path}</code>. <a href={href.overview()}>Back to the overview</a>
        </div>
      );
  }
}
