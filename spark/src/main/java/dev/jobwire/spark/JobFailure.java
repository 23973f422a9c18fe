package dev.jobwire.spark;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.NoSuchFileException;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeoutException;

/**
 * A failure of an ingestion with the kind the gateway acts on: PERMANENT (bad input: a missing
 * file, an unreadable format, too many bad rows, bad SQL or a bad table; retrying cannot help) or
 * TRANSIENT (the database or the cluster was unreachable or timed out; a retry may succeed).
 */
public final class JobFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What the gateway does with a failed run: retry it (TRANSIENT) or not (PERMANENT). */
  public enum Kind {
    PERMANENT,
    TRANSIENT
  }

  private final Kind kind;

  private JobFailure(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public static JobFailure permanent(String message) {
    return new JobFailure(Kind.PERMANENT, message, null);
  }

  public static JobFailure permanent(String message, Throwable cause) {
    return new JobFailure(Kind.PERMANENT, message, cause);
  }

  public static JobFailure transientFailure(String message, Throwable cause) {
    return new JobFailure(Kind.TRANSIENT, message, cause);
  }

  public Kind kind() {
    return kind;
  }

  /**
   * The failure behind any throwable: a JobFailure anywhere in the cause chain is taken as it is;
   * otherwise the chain decides. SQLSTATE classes 08 (connection), 40 (rollback: serialization,
   * deadlock), 53 (resources) and 57P (server shutting down) are TRANSIENT, every other SQL error
   * (syntax, missing table, permissions, authentication) PERMANENT; connection refused, timeouts,
   * unknown hosts and other socket or IO errors are TRANSIENT, a missing file PERMANENT; a lost
   * executor is TRANSIENT. Anything else (an analysis error, a bug) is PERMANENT: retrying the
   * same input would fail the same way. {@code doing} prefixes the message ("loading into x").
   */
  public static JobFailure classify(Throwable t, String doing) {
    for (Throwable e : chain(t)) {
      if (e instanceof JobFailure) return (JobFailure) e;
    }
    String message = (doing == null ? "" : doing + ": ") + describe(t);
    return new JobFailure(kindOf(t), message, t);
  }

  static Kind kindOf(Throwable t) {
    List<Throwable> chain = chain(t);
    for (Throwable e : chain) {
      if (e instanceof SQLException) {
        String state = ((SQLException) e).getSQLState();
        if (state != null && state.length() == 5) {
          return state.startsWith("08") || state.startsWith("40") || state.startsWith("53") || state.startsWith("57P")
              ? Kind.TRANSIENT
              : Kind.PERMANENT;
        }
      }
      // Bad input that surfaces as an IO error: a missing file, undecodable text, a corrupt Parquet file.
      if (e instanceof FileNotFoundException || e instanceof NoSuchFileException || e instanceof CharacterCodingException) {
        return Kind.PERMANENT;
      }
      String m = String.valueOf(e.getMessage());
      if (e.getClass().getName().contains("Parquet") || m.contains("not a Parquet file")) return Kind.PERMANENT;
      if (e instanceof ConnectException
          || e instanceof SocketTimeoutException
          || e instanceof NoRouteToHostException
          || e instanceof UnknownHostException
          || e instanceof SocketException
          || e instanceof TimeoutException) return Kind.TRANSIENT;
      if (m.contains("ExecutorLostFailure") || m.contains("SparkContext was shut down")) return Kind.TRANSIENT;
    }
    // A plain IOException (a read error, a broken pipe) with nothing more specific in the chain.
    for (Throwable e : chain) {
      if (e instanceof IOException) return Kind.TRANSIENT;
    }
    return Kind.PERMANENT;
  }

  private static List<Throwable> chain(Throwable t) {
    List<Throwable> out = new ArrayList<>();
    for (Throwable e = t; e != null && out.size() < 20 && !out.contains(e); e = e.getCause()) out.add(e);
    return out;
  }

  /** The most telling message of a chain: the deepest one that has a message, with its class when it is not ours. */
  static String describe(Throwable t) {
    Throwable best = t;
    for (Throwable e : chain(t)) {
      if (e.getMessage() != null && !e.getMessage().isBlank()) best = e;
      if (e instanceof SQLException) {
        best = e;
        break;
      }
    }
    String text = best.getMessage() == null ? best.getClass().getName() : best.getMessage().strip();
    if (best instanceof SQLException && ((SQLException) best).getSQLState() != null) {
      text += " (SQLSTATE " + ((SQLException) best).getSQLState() + ")";
    }
    // Spark's messages can carry a whole plan: the first lines say what went wrong.
    String[] lines = text.split("\n", -1);
    if (lines.length > 6) text = String.join("\n", Arrays.copyOf(lines, 6)) + "\n…";
    return text.length() > 4000 ? text.substring(0, 4000) + "…" : text;
  }
}
