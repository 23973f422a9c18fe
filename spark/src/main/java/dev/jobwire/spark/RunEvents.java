package dev.jobwire.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.UUID;

/** Builds run events in the envelope of docs/events.md, as JSON text. Thread-safe. */
final class RunEvents {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final DateTimeFormatter ISO_MILLIS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final String runId;
  private final int attempt;
  private volatile String producer;

  RunEvents(String runId, int attempt, String applicationId) {
    this.runId = runId;
    this.attempt = attempt;
    setApplicationId(applicationId);
  }

  void setApplicationId(String applicationId) {
    this.producer = "spark-listener:" + applicationId;
  }

  String runId() {
    return runId;
  }

  String status(String status) {
    ObjectNode p = JSON.createObjectNode();
    p.put("status", status);
    return envelope("run.status", p);
  }

  String stageProgress(String stage, int total, int completed, int failed, String status) {
    ObjectNode p = JSON.createObjectNode();
    p.put("stage", stage);
    p.put("totalItems", total);
    p.put("completedItems", completed);
    p.put("failedItems", failed);
    p.put("status", status);
    return envelope("stage.progress", p);
  }

  String metrics(long records, long bytes, double throughputRps, int activeWorkers) {
    ObjectNode p = JSON.createObjectNode();
    p.put("recordsProcessed", records);
    p.put("recordsFailed", 0);
    p.put("throughputRps", Math.round(throughputRps * 10) / 10.0);
    p.put("bytesProcessed", bytes);
    p.put("activeWorkers", activeWorkers);
    return envelope("run.metrics", p);
  }

  String heartbeat() {
    return envelope("run.heartbeat", JSON.createObjectNode());
  }

  private String envelope(String type, ObjectNode payload) {
    ObjectNode n = JSON.createObjectNode();
    n.put("eventId", UUID.randomUUID().toString());
    n.put("runId", runId);
    n.put("type", type);
    n.put("occurredAt", ISO_MILLIS.format(Instant.now()));
    n.put("producer", producer);
    n.put("attempt", attempt);
    n.set("payload", payload);
    try {
      return JSON.writeValueAsString(n);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
