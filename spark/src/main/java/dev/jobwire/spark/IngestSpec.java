package dev.jobwire.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * What the gateway asks IngestApp to do: the JSON document passed base64-encoded in the
 * {@code JOBWIRE_SPEC} environment variable (or as the first argument, for local runs).
 * Parsing validates it; every problem is a PERMANENT {@link JobFailure} whose message names the
 * field and never echoes a value (any of them may be a secret).
 */
public final class IngestSpec {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The source: where the rows come from. */
  public static final class Source {
    /** LOCAL or POSTGRES. */
    public final String type;
    /** AUTO, CSV, JSON, NDJSON or PARQUET (LOCAL only; AUTO: from the extension or the content). */
    public final String format;
    /** The type's parameters: LOCAL path, delimiter, header; POSTGRES connection and table or query. */
    public final JsonNode params;
    /** A glob applied under a directory path (LOCAL), or null. */
    public final String filePattern;
    /** CSV: infer column types (true) or read every column as text (false); JSON: numbers and booleans kept (true) or as text. */
    public final boolean schemaInference;

    Source(String type, String format, JsonNode params, String filePattern, boolean schemaInference) {
      this.type = type;
      this.format = format;
      this.params = params;
      this.filePattern = filePattern;
      this.schemaInference = schemaInference;
    }
  }

  public final String runId;
  public final int attempt;
  public final String jobId;
  public final Source source;
  /** The destination database (a postgres:// URL with its credentials), schema and table. */
  public final String destinationUrl;
  public final String destinationSchema;
  public final String destinationTable;
  /** Rows per JDBC batch insert (default 1000). */
  public final int batchSize;
  /** Largest accepted share of bad rows, 0..1 (default 0.1); above it the run fails PERMANENT and loads nothing. */
  public final double maxFailedRowRatio;

  private IngestSpec(JsonNode root) {
    runId = requiredText(root, "runId");
    try {
      UUID.fromString(runId);
    } catch (IllegalArgumentException e) {
      throw JobFailure.permanent("runId must be a uuid");
    }
    attempt = root.hasNonNull("attempt") ? root.get("attempt").asInt(0) : 1;
    if (attempt < 1) throw JobFailure.permanent("attempt must be an integer >= 1");
    jobId = root.hasNonNull("jobId") ? root.get("jobId").asText() : null;

    JsonNode s = object(root, "source");
    String type = requiredText(s, "type").toUpperCase(Locale.ROOT);
    if (!type.equals("LOCAL") && !type.equals("POSTGRES")) {
      throw JobFailure.permanent("source.type " + type + " is not supported by the Spark application (LOCAL or POSTGRES)");
    }
    String format = s.hasNonNull("format") ? s.get("format").asText().toUpperCase(Locale.ROOT) : "AUTO";
    if (format.equals("JSONL")) format = "NDJSON";
    if (!List.of("AUTO", "CSV", "JSON", "NDJSON", "PARQUET").contains(format)) {
      throw JobFailure.permanent("source.format must be AUTO, CSV, JSON, NDJSON or PARQUET");
    }
    JsonNode params = s.hasNonNull("params") ? s.get("params") : JsonNodeFactory.instance.objectNode();
    if (!params.isObject()) throw JobFailure.permanent("source.params must be an object");
    String pattern = s.hasNonNull("filePattern") ? s.get("filePattern").asText() : null;
    boolean inference = !s.hasNonNull("schemaInference") || s.get("schemaInference").asBoolean(true);
    source = new Source(type, format, params, pattern == null || pattern.isBlank() ? null : pattern, inference);

    JsonNode d = object(root, "destination");
    destinationUrl = requiredText(d, "url");
    destinationSchema = d.hasNonNull("schema") ? d.get("schema").asText() : "public";
    destinationTable = requiredText(d, "table");
    if (!Identifiers.isValidObjectName(destinationSchema)) {
      throw JobFailure.permanent("invalid destination schema name: use 1-63 letters, digits or underscores");
    }
    if (!Identifiers.isValidObjectName(destinationTable)) {
      throw JobFailure.permanent("invalid destination table name: use 1-63 letters, digits or underscores");
    }

    JsonNode p = root.hasNonNull("processing") ? root.get("processing") : JsonNodeFactory.instance.objectNode();
    batchSize = p.hasNonNull("batchSize") ? p.get("batchSize").asInt(0) : 1000;
    if (batchSize < 1) throw JobFailure.permanent("processing.batchSize must be an integer >= 1");
    maxFailedRowRatio = p.hasNonNull("maxFailedRowRatio") ? p.get("maxFailedRowRatio").asDouble(-1) : 0.1;
    if (!(maxFailedRowRatio >= 0 && maxFailedRowRatio <= 1)) {
      throw JobFailure.permanent("processing.maxFailedRowRatio must be between 0 and 1");
    }
  }

  /** Decodes the base64 of a UTF-8 JSON document. */
  public static IngestSpec fromBase64(String base64) {
    byte[] json;
    try {
      json = Base64.getDecoder().decode(base64.strip());
    } catch (IllegalArgumentException e) {
      throw JobFailure.permanent("JOBWIRE_SPEC is not valid base64");
    }
    return parse(json);
  }

  public static IngestSpec parse(byte[] json) {
    JsonNode root;
    try {
      root = JSON.readTree(new String(json, StandardCharsets.UTF_8));
    } catch (IOException e) {
      // Jackson's message quotes the input: say only where it broke.
      throw JobFailure.permanent("JOBWIRE_SPEC is not valid JSON");
    }
    if (root == null || !root.isObject()) throw JobFailure.permanent("JOBWIRE_SPEC must be a JSON object");
    return new IngestSpec(root);
  }

  /** Values that must never be printed: the destination URL and its password, the source's connection string and password. */
  public List<String> secrets() {
    List<String> out = new ArrayList<>();
    out.add(destinationUrl);
    try {
      out.add(JdbcTarget.fromUrl(destinationUrl, "destination.url").password());
    } catch (JobFailure ignored) {
      // Reported when the destination is opened.
    }
    for (String key : List.of("connectionString", "password", "url")) {
      if (source.params.hasNonNull(key)) out.add(source.params.get(key).asText());
    }
    if (source.params.hasNonNull("connectionString")) {
      try {
        out.add(JdbcTarget.fromUrl(source.params.get("connectionString").asText(), "source").password());
      } catch (JobFailure ignored) {
        // Reported when the source is opened.
      }
    }
    return out;
  }

  private static JsonNode object(JsonNode n, String key) {
    JsonNode v = n.get(key);
    if (v == null || !v.isObject()) throw JobFailure.permanent(key + " must be an object");
    return v;
  }

  private static String requiredText(JsonNode n, String key) {
    JsonNode v = n.get(key);
    if (v == null || !v.isTextual() || v.asText().isBlank()) throw JobFailure.permanent(key + " is required (a non-empty string)");
    return v.asText();
  }
}
