package dev.jobwire.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;

/**
 * The contract with the gateway's Spark poller, which tails the driver's stderr: one line per fact,
 * {@code JOBWIRE } followed by compact JSON. Every line goes through the {@link Redactor}.
 *
 * <pre>
 * JOBWIRE {"type":"started","runId":"…","attempt":1}
 * JOBWIRE {"type":"read","rows":N,"failed":M}
 * JOBWIRE {"type":"result","rowsRead":N,"rowsWritten":W,"rowsFailed":M,"alreadyLoaded":false}
 * JOBWIRE {"type":"error","kind":"PERMANENT|TRANSIENT","message":"…"}
 * </pre>
 */
public final class Reporter {
  public static final String PREFIX = "JOBWIRE ";
  private static final ObjectMapper JSON = new ObjectMapper();
  private final PrintStream out;
  private final Redactor redactor;

  public Reporter(PrintStream out, Redactor redactor) {
    this.out = out;
    this.redactor = redactor;
  }

  public void started(String runId, int attempt) {
    ObjectNode n = line("started");
    n.put("runId", runId);
    n.put("attempt", attempt);
    emit(n);
  }

  /** After reading: {@code rows} read in all (bad ones included), {@code failed} of them bad (not loaded). */
  public void read(long rows, long failed) {
    ObjectNode n = line("read");
    n.put("rows", rows);
    n.put("failed", failed);
    emit(n);
  }

  public void result(long rowsRead, long rowsWritten, long rowsFailed, boolean alreadyLoaded) {
    ObjectNode n = line("result");
    n.put("rowsRead", rowsRead);
    n.put("rowsWritten", rowsWritten);
    n.put("rowsFailed", rowsFailed);
    n.put("alreadyLoaded", alreadyLoaded);
    emit(n);
  }

  public void error(JobFailure.Kind kind, String message) {
    ObjectNode n = line("error");
    n.put("kind", kind.name());
    n.put("message", redactor.redact(message));
    emit(n);
  }

  /** A human-readable line for the driver's log (not part of the contract), redacted. */
  public void info(String message) {
    write("jobwire: " + message);
  }

  private static ObjectNode line(String type) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", type);
    return n;
  }

  private void emit(ObjectNode n) {
    try {
      // JSON escapes line breaks, so the fact is one line whatever the message holds.
      write(PREFIX + JSON.writeValueAsString(n));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private void write(String text) {
    String line = redactor.redact(text) + System.lineSeparator();
    // One print of the whole line under the stream's lock: log4j writes to the same stream.
    synchronized (out) {
      out.print(line);
      out.flush();
    }
  }
}
