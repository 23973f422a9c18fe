package dev.jobwire.spark;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drains an {@link EventQueue} into a Kafka topic from one daemon thread, so that a slow or
 * absent broker delays only that thread: a send blocks at most {@code max.block.ms} (2 s), and
 * meanwhile the queue drops superseded events. Before the first send it waits up to 10 s for the
 * topic's metadata, so the first events are not lost to a cold producer.
 */
final class KafkaEventSender {
  private static final Logger LOG = LoggerFactory.getLogger(KafkaEventSender.class);
  private static final long METADATA_WAIT_MS = 10_000;

  private final EventQueue queue;
  private final String topic;
  private final KafkaProducer<String, String> producer;
  private final Thread thread;
  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private volatile boolean closing;

  KafkaEventSender(String brokers, String topic, String clientId, EventQueue queue) {
    this.queue = queue;
    this.topic = topic;
    Properties p = new Properties();
    p.setProperty("bootstrap.servers", brokers);
    p.setProperty("client.id", clientId);
    p.setProperty("acks", "all");
    p.setProperty("linger.ms", "20");
    p.setProperty("max.block.ms", "2000");
    p.setProperty("request.timeout.ms", "10000");
    p.setProperty("delivery.timeout.ms", "30000");
    p.setProperty("enable.metrics.push", "false");
    // An absent broker is retried every 10 s at most, so the driver's log gets a warning or two per
    // 10 s from the client, not a few a second.
    p.setProperty("reconnect.backoff.max.ms", "10000");
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    this.thread = new Thread(this::run, "jobwire-listener-sender");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  private void run() {
    waitForMetadata();
    while (true) {
      EventQueue.Event e;
      try {
        e = queue.poll(200);
      } catch (InterruptedException ie) {
        break;
      }
      if (e == null) {
        if (closing) break;
        continue;
      }
      try {
        producer.send(new ProducerRecord<>(topic, e.key, e.value), (md, err) -> {
          if (err == null) sent.incrementAndGet();
          else if (failed.getAndIncrement() % 100 == 0) LOG.warn("jobwire listener: could not send a run event to {}: {}", topic, err.toString());
        });
      } catch (RuntimeException err) {
        // max.block.ms elapsed (no broker) or the producer is closing: this event is lost, the next may pass.
        if (failed.getAndIncrement() % 100 == 0) LOG.warn("jobwire listener: could not send a run event to {}: {}", topic, err.toString());
      }
    }
  }

  private void waitForMetadata() {
    long deadline = System.currentTimeMillis() + METADATA_WAIT_MS;
    while (!closing && System.currentTimeMillis() < deadline) {
      try {
        producer.partitionsFor(topic);
        return;
      } catch (RuntimeException e) {
        if (System.currentTimeMillis() >= deadline) {
          LOG.warn("jobwire listener: no metadata for topic {} within {} ms ({}); sending anyway", topic, METADATA_WAIT_MS, e.toString());
        }
      }
    }
  }

  /** Sends what is queued (up to {@code timeout} in all), then closes the producer; never throws. */
  void close(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    closing = true;
    try {
      thread.join(Math.max(1, timeout.toMillis() / 2));
      if (thread.isAlive()) thread.interrupt();
      long left = Math.max(0, deadline - System.nanoTime());
      producer.close(Duration.ofNanos(left));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      producer.close(Duration.ZERO);
    } catch (RuntimeException e) {
      LOG.warn("jobwire listener: closing the producer failed: {}", e.toString());
    }
    LOG.info("jobwire listener: {} run events sent to {}, {} failed, {} dropped (queue full), {} left unsent",
        sent.get(), topic, failed.get(), queue.dropped(), queue.size());
  }
}
