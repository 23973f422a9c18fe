package dev.jobwire.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class IdentifiersTest {
  @Test
  void sanitisesColumnNamesAsTheLocalExecutorDoes() {
    assertEquals(List.of("order_id", "cree_le", "c_2nd_value", "column_4", "order_id_2"),
        Identifiers.sanitizeAll(List.of("Order ID", "Créé le", "2nd value", "!!!", "order id")));
    assertEquals(63, Identifiers.sanitize("x".repeat(100), 1).length());
  }

  @Test
  void acceptsOnlyPlainDestinationNames() {
    assertTrue(Identifiers.isValidObjectName("orders_2026"));
    assertFalse(Identifiers.isValidObjectName("orders; drop table x"));
    assertFalse(Identifiers.isValidObjectName(""));
  }

  @Test
  void quotesQualifiedSourceTables() {
    assertEquals("\"public\".\"orders\"", Identifiers.quoteQualifiedTable("public.orders"));
    assertEquals(JobFailure.Kind.PERMANENT,
        assertThrows(JobFailure.class, () -> Identifiers.quoteQualifiedTable("a.b.c")).kind());
  }
}
