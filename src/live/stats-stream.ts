import type { JobStatsView, RunsApi } from '../api';
import type { StatsFeed } from './stats-feed';
import { LatestValue, closing } from './streams';

/**
 * `jobStatsUpdated`: the current stats, then a fresh computation after each burst of status changes
 * (shared by every subscriber, see StatsFeed). Stats are state, not deltas: a slow client gets the
 * newest value, never a backlog; a recomputation that lands before the snapshot replaces it.
 */
export async function jobStatsStream(deps: { runs: RunsApi; feed: StatsFeed }) {
  const box = new LatestValue<JobStatsView>();
  const detach = await deps.feed.attach((s) => box.push(s));
  try {
    const snapshot = await deps.runs.stats();
    if (box.empty) box.push(snapshot);
  } catch (err) {
    detach();
    throw err;
  }
  return closing(box[Symbol.asyncIterator](), () => {
    detach();
    box.close();
  });
}
