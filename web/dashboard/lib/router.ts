/**
 * Hash routing (`#/jobs`, `#/runs/<id>`): the gateway serves one page at `/`, so every view is a
 * fragment of it and a reload or a shared link opens the same view.
 */
import { useEffect, useState } from 'react';

export type Route =
  | { name: 'overview' }
  | { name: 'jobs' }
  | { name: 'new-job' }
  | { name: 'job'; id: string }
  | { name: 'run'; id: string }
  | { name: 'dead-letters' }
  | { name: 'not-found'; path: string };

/** The route of a location hash (`#/runs/abc` → run abc). */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'overview' };
  if (parts[0] === 'jobs' && parts.length === 1) return { name: 'jobs' };
  if (parts[0] === 'jobs' && parts[1] === 'new' && parts.length === 2) return { name: 'new-job' };
  if (parts[0] === 'jobs' && parts.length === 2) return { name: 'job', id: parts[1] };
  if (parts[0] === 'runs' && parts.length === 2) return { name: 'run', id: parts[1] };
  if (parts[0] === 'dead-letters' && parts.length === 1) return { name: 'dead-letters' };
  return { name: 'not-found', path };
}

/** Links of the views. */
export const href = {
  overview: () => '#/',
  jobs: () => '#/jobs',
  newJob: () => '#/jobs/new',
  job: (id: string) => `#/jobs/${encodeURIComponent(id)}`,
  run: (id: string) => `#/runs/${encodeURIComponent(id)}`,
  deadLetters: () => '#/dead-letters',
};

/** Goes to a view (as a link would). */
export function navigate(to: string): void {
  window.location.hash = to;
}

/** The current route, following the hash. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
