package dev.jobwire.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.ConnectException;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

class JobFailureTest {
  @Test
  void connectionProblemsAreTransient() {
    assertEquals(JobFailure.Kind.TRANSIENT, JobFailure.classify(new SQLException("refused", "08001"), null).kind());
    assertEquals(JobFailure.Kind.TRANSIENT, JobFailure.classify(new SQLException("deadlock", "40P01"), null).kind());
    assertEquals(JobFailure.Kind.TRANSIENT,
        JobFailure.classify(new RuntimeException("wrapped", new ConnectException("Connection refused")), null).kind());
    assertEquals(JobFailure.Kind.TRANSIENT, JobFailure.classify(new IOException("broken pipe"), null).kind());
  }

  @Test
  void badInputIsPermanent() {
    assertEquals(JobFailure.Kind.PERMANENT, JobFailure.classify(new SQLException("no such table", "42P01"), null).kind());
    assertEquals(JobFailure.Kind.PERMANENT, JobFailure.classify(new SQLException("password authentication failed", "28P01"), null).kind());
    assertEquals(JobFailure.Kind.PERMANENT,
        JobFailure.classify(new IOException("read", new FileNotFoundException("/x.csv")), null).kind());
    assertEquals(JobFailure.Kind.PERMANENT, JobFailure.classify(new IllegalArgumentException("bug"), null).kind());
  }

  @Test
  void keepsAJobFailureFoundInTheChainAndNamesTheSqlState() {
    JobFailure inner = JobFailure.permanent("too many bad rows");
    assertEquals(inner, JobFailure.classify(new RuntimeException(inner), "x"));
    JobFailure f = JobFailure.classify(new RuntimeException("outer", new SQLException("relation \"t\" does not exist", "42P01")), "loading");
    assertTrue(f.getMessage().startsWith("loading: relation \"t\" does not exist (SQLSTATE 42P01)"), f.getMessage());
  }
}
