package dev.jobwire.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class EventQueueTest {
  private static EventQueue.Event ev(String v, boolean droppable) {
    return new EventQueue.Event("run", v, droppable);
  }

  @Test
  void whenFullDropsTheOldestDroppableEventFirst() throws Exception {
    EventQueue q = new EventQueue(3);
    q.offer(ev("status", false));
    q.offer(ev("progress-1", true));
    q.offer(ev("progress-2", true));
    q.offer(ev("progress-3", true));
    assertEquals(1, q.dropped());
    assertEquals("status", q.poll(0).value);
    assertEquals("progress-2", q.poll(0).value);
    assertEquals("progress-3", q.poll(0).value);
    assertNull(q.poll(10));
  }

  @Test
  void dropsTheOldestOfAnyKindWhenNothingIsDroppable() throws Exception {
    EventQueue q = new EventQueue(2);
    q.offer(ev("a", false));
    q.offer(ev("b", false));
    q.offer(ev("c", false));
    assertEquals("b", q.poll(0).value);
    assertEquals("c", q.poll(0).value);
  }
}
