package dev.jobwire.spark;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * SQL identifier hygiene, the same rules as the LOCAL executor's (src/backends/local/ingest/identifiers.ts),
 * so a table loaded by either backend has the same column names: destination names are validated,
 * source column names sanitised.
 */
public final class Identifiers {
  /** PostgreSQL truncates identifiers beyond NAMEDATALEN-1 bytes. */
  public static final int MAX_LENGTH = 63;

  private static final Pattern OBJECT_NAME = Pattern.compile("[A-Za-z0-9_]{1,63}");
  private static final Pattern QUALIFIED_TABLE =
      Pattern.compile("[A-Za-z_][A-Za-z0-9_$]{0,62}(\\.[A-Za-z_][A-Za-z0-9_$]{0,62})?");

  private Identifiers() {}

  /** Whether {@code name} is acceptable as a destination schema or table name: letters, digits, underscore, 1-63 characters. */
  public static boolean isValidObjectName(String name) {
    return name != null && OBJECT_NAME.matcher(name).matches();
  }

  /** {@code table} or {@code schema.table} with letters, digits, {@code _} and {@code $} (a PostgreSQL source table), quoted; PERMANENT when invalid. */
  public static String quoteQualifiedTable(String name) {
    if (name == null || !QUALIFIED_TABLE.matcher(name).matches()) {
      throw JobFailure.permanent("invalid source table name: use table or schema.table (letters, digits, _ and $)");
    }
    List<String> parts = new ArrayList<>();
    for (String p : name.split("\\.")) parts.add(quote(p));
    return String.join(".", parts);
  }

  /** Double-quotes an identifier, doubling embedded quotes. */
  public static String quote(String name) {
    return "\"" + name.replace("\"", "\"\"") + "\"";
  }

  /**
   * Turns a source column name into a safe lowercase identifier: accents are stripped, runs of
   * other characters become {@code _} (none at either end), a leading digit gets a {@code c_}
   * prefix, the result is cut to 63 characters; an empty result becomes {@code column_<position>}
   * (1-based). Never throws.
   */
  public static String sanitize(String raw, int position) {
    String s = Normalizer.normalize(raw == null ? "" : raw, Normalizer.Form.NFKD)
        .replaceAll("[\u0300-\u036f]", "")
        .toLowerCase(Locale.ROOT)
        .replaceAll("[^a-z0-9_]+", " ")
        .strip()
        .replaceAll(" +", "_");
    if (s.isEmpty()) s = "column_" + position;
    if (s.charAt(0) >= '0' && s.charAt(0) <= '9') s = "c_" + s;
    return s.length() > MAX_LENGTH ? s.substring(0, MAX_LENGTH) : s;
  }

  /** Sanitises every name ({@link #sanitize}) and makes them unique by suffixing {@code _2}, {@code _3}… to repeats. */
  public static List<String> sanitizeAll(List<String> raw) {
    Set<String> seen = new HashSet<>();
    List<String> out = new ArrayList<>(raw.size());
    for (int i = 0; i < raw.size(); i++) {
      String base = sanitize(raw.get(i), i + 1);
      String candidate = base;
      for (int n = 2; seen.contains(candidate); n++) {
        String suffix = "_" + n;
        candidate = base.substring(0, Math.min(base.length(), MAX_LENGTH - suffix.length())) + suffix;
      }
      seen.add(candidate);
      out.add(candidate);
    }
    return out;
  }
}
