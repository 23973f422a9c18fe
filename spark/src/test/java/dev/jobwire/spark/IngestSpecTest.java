package dev.jobwire.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class IngestSpecTest {
  private static final String RUN = "d289755a-2936-489f-8df9-8c7eb3cb70ed";

  private static IngestSpec parse(String json) {
    return IngestSpec.fromBase64(Base64.getEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void readsASpecWithDefaults() {
    IngestSpec s = parse("{\"runId\":\"" + RUN + "\",\"source\":{\"type\":\"LOCAL\",\"params\":{\"path\":\"/d/a.csv\"}},"
        + "\"destination\":{\"url\":\"postgres://u:pw@h/db\",\"table\":\"orders\"}}");
    assertEquals(1, s.attempt);
    assertEquals("AUTO", s.source.format);
    assertTrue(s.source.schemaInference);
    assertEquals("public", s.destinationSchema);
    assertEquals(1000, s.batchSize);
    assertEquals(0.1, s.maxFailedRowRatio);
    assertTrue(s.secrets().contains("pw"));
  }

  @Test
  void refusesBadFieldsWithoutEchoingValues() {
    JobFailure f = assertThrows(JobFailure.class, () -> parse("{\"runId\":\"" + RUN + "\",\"source\":{\"type\":\"LOCAL\"},"
        + "\"destination\":{\"url\":\"postgres://u:topsecret@h/db\",\"table\":\"bad name\"}}"));
    assertEquals(JobFailure.Kind.PERMANENT, f.kind());
    assertFalse(f.getMessage().contains("topsecret"));
    assertThrows(JobFailure.class, () -> parse("{\"runId\":\"not-a-uuid\"}"));
    assertThrows(JobFailure.class, () -> IngestSpec.fromBase64("%%%"));
    assertThrows(JobFailure.class, () -> parse("{\"runId\":"));
  }
}
