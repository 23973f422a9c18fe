package dev.jobwire.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class RedactorTest {
  @Test
  void masksRegisteredSecretsAndUrlPasswords() {
    Redactor r = new Redactor();
    r.add("hunter22");
    r.add("x");
    assertEquals("login *** failed for x", r.redact("login hunter22 failed for x"));
    assertEquals("at postgres://bob:***@h:5432/db and http://h/p", r.redact("at postgres://bob:whatever@h:5432/db and http://h/p"));
  }
}
