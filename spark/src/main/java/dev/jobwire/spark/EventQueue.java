package dev.jobwire.spark;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * The listener's outbox: a bounded queue between Spark's listener bus (which must never block) and
 * the one thread that sends to Kafka. When full, the oldest droppable event (progress, metrics,
 * heartbeat: a later one supersedes it) makes room; only when none is left does the oldest event
 * of any kind go. Thread-safe.
 */
final class EventQueue {
  /** One record to send: the key (the run id), the JSON value, and whether a later event supersedes it. */
  static final class Event {
    final String key;
    final String value;
    final boolean droppable;

    Event(String key, String value, boolean droppable) {
      this.key = key;
      this.value = value;
      this.droppable = droppable;
    }
  }

  private final ArrayDeque<Event> events = new ArrayDeque<>();
  private final int capacity;
  private long dropped;

  EventQueue(int capacity) {
    this.capacity = capacity;
  }

  /** Adds an event, dropping an older one when full; never blocks. */
  synchronized void offer(Event e) {
    if (events.size() >= capacity) {
      boolean made = false;
      for (Iterator<Event> it = events.iterator(); it.hasNext(); ) {
        if (it.next().droppable) {
          it.remove();
          made = true;
          break;
        }
      }
      if (!made) events.removeFirst();
      dropped++;
    }
    events.addLast(e);
    notifyAll();
  }

  /** The oldest event, waiting up to {@code timeoutMs} for one; null when none came. */
  synchronized Event poll(long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (events.isEmpty()) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left <= 0) return null;
      wait(left);
    }
    return events.pollFirst();
  }

  synchronized int size() {
    return events.size();
  }

  /** How many events were dropped because the queue was full. */
  synchronized long dropped() {
    return dropped;
  }
}
