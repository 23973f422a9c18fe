package dev.jobwire.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class JdbcTargetTest {
  @Test
  void keepsCredentialsOutOfTheJdbcUrl() {
    JdbcTarget t = JdbcTarget.fromUrl("postgres://loader:p%40ss%3Aword@db.example:6543/sales?sslmode=require", "destination.url");
    assertEquals("jdbc:postgresql://db.example:6543/sales?sslmode=require", t.url);
    assertEquals("loader", t.user);
    assertEquals("p@ss:word", t.password());
    assertEquals("p@ss:word", t.properties().getProperty("password"));
  }

  @Test
  void defaultsThePortAndAllowsNoPassword() {
    JdbcTarget t = JdbcTarget.fromUrl("postgresql://postgres@127.0.0.1/jobwire", "x");
    assertEquals("jdbc:postgresql://127.0.0.1:5432/jobwire", t.url);
    assertNull(t.password());
  }

  @Test
  void refusesOtherSchemesWithoutEchoingTheUrl() {
    JobFailure f = assertThrows(JobFailure.class, () -> JdbcTarget.fromUrl("mysql://u:topsecret@h/db", "destination.url"));
    assertEquals(JobFailure.Kind.PERMANENT, f.kind());
    assertFalse(f.getMessage().contains("topsecret"));
  }

  @Test
  void readsHostAndDatabaseParams() throws Exception {
    JdbcTarget t = JdbcTarget.fromParams(new ObjectMapper().readTree(
        "{\"host\":\"10.0.0.5\",\"port\":5433,\"database\":\"my db\",\"user\":\"u\",\"password\":\"pw\"}"));
    assertEquals("jdbc:postgresql://10.0.0.5:5433/my%20db", t.url);
    assertEquals("pw", t.password());
  }
}
