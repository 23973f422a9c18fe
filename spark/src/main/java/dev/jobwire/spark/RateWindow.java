package dev.jobwire.spark;

import java.util.ArrayDeque;

/** Records per second over a sliding window of samples of a growing counter. Not thread-safe. */
final class RateWindow {
  private final long windowMs;
  private final ArrayDeque<long[]> samples = new ArrayDeque<>();

  RateWindow(long windowMs) {
    this.windowMs = windowMs;
  }

  void add(long nowMs, long total) {
    samples.addLast(new long[] {nowMs, total});
    while (samples.size() > 2 && nowMs - samples.peekFirst()[0] > windowMs) samples.removeFirst();
  }

  /** The rate between the oldest and the newest sample of the window; 0 with fewer than two samples. */
  double perSecond() {
    if (samples.size() < 2) return 0;
    long[] first = samples.peekFirst();
    long[] last = samples.peekLast();
    long ms = last[0] - first[0];
    return ms <= 0 ? 0 : Math.max(0, (last[1] - first[1]) * 1000.0 / ms);
  }
}
