package dev.jobwire.spark;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Opens the spec's source as a Dataset. Text formats are read in PERMISSIVE mode with a
 * corrupt-record column ({@link #CORRUPT}): a row that does not parse (a CSV line with too many
 * or too few fields, a value that does not fit its column, a JSON line that is not an object)
 * keeps its text there and its other columns null, so the caller can count it and leave it out.
 */
final class SourceReader {
  /** The corrupt-record column (a name a source is unlikely to use); dropped before loading. */
  static final String CORRUPT = "_jw_corrupt_record";
  /** How many good rows CSV type inference looks at (the LOCAL executor's sample size). */
  static final int INFER_ROWS = 10_000;

  /** A source opened for reading: its rows, and the corrupt-record column among them (null when the format has none). */
  static final class Opened {
    final Dataset<Row> rows;
    final String corruptColumn;
    final String description;

    Opened(Dataset<Row> rows, String corruptColumn, String description) {
      this.rows = rows;
      this.corruptColumn = corruptColumn;
      this.description = description;
    }
  }

  private final SparkSession spark;
  private final IngestSpec spec;

  SourceReader(SparkSession spark, IngestSpec spec) {
    this.spark = spark;
    this.spec = spec;
  }

  Opened open() {
    return spec.source.type.equals("POSTGRES") ? openPostgres() : openLocal();
  }

  private Opened openLocal() {
    JsonNode params = spec.source.params;
    String path = params.hasNonNull("path") ? params.get("path").asText() : "";
    if (!path.startsWith("/")) throw JobFailure.permanent("source.params.path must be an absolute path");
    boolean glob = hasGlob(path);
    Path p = Paths.get(path);
    if (!glob && !Files.exists(p)) throw JobFailure.permanent("source path not found: " + path);
    boolean dir = !glob && Files.isDirectory(p);
    String format = spec.source.format.equals("AUTO") ? detectFormat(p, glob, dir) : spec.source.format;
    String location = "file://" + path;

    Map<String, String> options = new HashMap<>();
    if (dir && spec.source.filePattern != null) options.put("pathGlobFilter", spec.source.filePattern);
    String what = format + " " + path + (dir && spec.source.filePattern != null ? "/" + spec.source.filePattern : "");
    switch (format) {
      case "CSV":
        {
          options.put("sep", csvDelimiter(params, path));
          options.put("header", String.valueOf(!params.hasNonNull("header") || params.get("header").asBoolean(true)));
          options.put("mode", "PERMISSIVE");
          options.put("columnNameOfCorruptRecord", CORRUPT);
          // The header (or the first line's width) gives the columns, every one text; a small job.
          StructType header = uncounted("read the header of " + path, () -> reader(options).csv(location).schema());
          StructType schema = spec.source.schemaInference
              ? uncounted("infer the column types of " + path, () -> inferCsvTypes(reader(options).schema(withCorrupt(header)).csv(location), header))
              : header;
          return new Opened(reader(options).schema(withCorrupt(schema)).csv(location), CORRUPT, what);
        }
      case "JSON":
      case "NDJSON":
        {
          options.put("multiLine", String.valueOf(format.equals("JSON")));
          options.put("mode", "PERMISSIVE");
          options.put("columnNameOfCorruptRecord", CORRUPT);
          options.put("primitivesAsString", String.valueOf(!spec.source.schemaInference));
          StructType schema = uncounted("infer the schema of " + path, () -> reader(options).json(location).schema());
          String corrupt = Set.of(schema.fieldNames()).contains(CORRUPT) ? CORRUPT : null;
          return new Opened(reader(options).schema(schema).json(location), corrupt, what);
        }
      case "PARQUET":
        return new Opened(reader(options).parquet(location), null, what);
      default:
        throw JobFailure.permanent("source.format " + format + " is not supported");
    }
  }

  private Opened openPostgres() {
    JsonNode params = spec.source.params;
    JdbcTarget db = JdbcTarget.fromParams(params);
    Map<String, String> options = new HashMap<>();
    db.properties().forEach((k, v) -> options.put(k.toString(), v.toString()));
    options.put("url", db.url);
    options.put("fetchsize", String.valueOf(spec.batchSize));
    boolean hasTable = params.hasNonNull("table");
    boolean hasQuery = params.hasNonNull("query");
    if (hasTable == hasQuery) throw JobFailure.permanent("source.params: give table or query (one of them)");
    String what;
    if (hasTable) {
      options.put("dbtable", Identifiers.quoteQualifiedTable(params.get("table").asText()));
      what = "PostgreSQL table " + params.get("table").asText();
    } else {
      options.put("query", params.get("query").asText());
      what = "PostgreSQL query";
    }
    // load() asks the database for the columns: connection and SQL errors surface here.
    Dataset<Row> rows = spark.read().format("jdbc").options(options).load();
    return new Opened(rows, null, what);
  }

  private static StructType withCorrupt(StructType schema) {
    return schema.add(CORRUPT, DataTypes.StringType, true);
  }

  /**
   * Column types inferred from the first {@value #INFER_ROWS} good rows, as the LOCAL executor infers
   * them from its first rows (a later value that does not fit its column makes its row bad). Spark's
   * own inference (inferSchema) would read everything and count the fields of malformed lines too,
   * so one line with a word in a numeric column would make the column text for every row. The good
   * rows are written back as CSV lines (read as text, so no value changes) and Spark infers their
   * types; a source without data rows keeps text columns.
   */
  private StructType inferCsvTypes(Dataset<Row> asText, StructType header) {
    Column[] columns = new Column[header.fields().length];
    for (int i = 0; i < columns.length; i++) columns[i] = asText.col(quoteColumn(header.fields()[i].name()));
    Dataset<String> lines = asText.filter(functions.col(CORRUPT).isNull())
        .limit(INFER_ROWS)
        .select(functions.to_csv(functions.struct(columns)))
        .as(Encoders.STRING());
    StructType inferred = spark.read().option("header", "false").option("inferSchema", "true").csv(lines).schema();
    if (inferred.fields().length != header.fields().length) return header;
    StructType typed = new StructType();
    for (int i = 0; i < columns.length; i++) typed = typed.add(header.fields()[i].name(), inferred.fields()[i].dataType(), true);
    return typed;
  }

  /** A column name as Spark's Dataset.col takes it whatever it holds (dots, spaces, backticks). */
  static String quoteColumn(String name) {
    return "`" + name.replace("`", "``") + "`";
  }

  private DataFrameReader reader(Map<String, String> options) {
    return spark.read().options(options);
  }

  /** Runs {@code action} with the Spark jobs it starts marked as not counting towards the run's records (see {@link JobwireListener#COUNT_RECORDS}). */
  private <T> T uncounted(String callSite, Supplier<T> action) {
    var sc = spark.sparkContext();
    sc.setLocalProperty(JobwireListener.COUNT_RECORDS, "false");
    sc.setCallSite(callSite);
    try {
      return action.get();
    } finally {
      sc.setLocalProperty(JobwireListener.COUNT_RECORDS, null);
      sc.clearCallSite();
    }
  }

  private static String csvDelimiter(JsonNode params, String path) {
    if (params.hasNonNull("delimiter") && !params.get("delimiter").asText().isEmpty()) return params.get("delimiter").asText();
    return path.toLowerCase(Locale.ROOT).endsWith(".tsv") ? "\t" : ",";
  }

  static boolean hasGlob(String path) {
    return path.contains("*") || path.contains("?") || path.contains("[") || path.contains("{");
  }

  /**
   * AUTO: the format implied by the extension (.csv and .tsv, .json, .ndjson and .jsonl,
   * .parquet) of the file, of the glob, of the filePattern, or of every file of the directory;
   * failing that, by the content of the first file (as the LOCAL executor does): Parquet's
   * {@code PAR1}, {@code [} JSON, <code>{</code> NDJSON, anything else CSV.
   */
  private String detectFormat(Path p, boolean glob, boolean dir) {
    if (glob) return orFail(fromExtension(p.getFileName().toString()), p.toString());
    if (!dir) {
      String f = fromExtension(p.getFileName().toString());
      return f != null ? f : sniff(p);
    }
    if (spec.source.filePattern != null) {
      String f = fromExtension(spec.source.filePattern);
      if (f != null) return f;
    }
    Set<String> found = new TreeSet<>();
    Path first = null;
    try (Stream<Path> files = Files.list(p)) {
      for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        String name = f.getFileName().toString();
        // Spark itself skips hidden and underscore files (_SUCCESS, .crc).
        if (name.startsWith(".") || name.startsWith("_")) continue;
        if (first == null) first = f;
        String fmt = fromExtension(name);
        if (fmt != null) found.add(fmt);
      }
    } catch (IOException e) {
      throw JobFailure.classify(e, "listing " + p);
    }
    if (found.size() == 1) return found.iterator().next();
    if (found.size() > 1) throw JobFailure.permanent("the files in " + p + " have several formats " + found + ": set source.format or a filePattern");
    if (first == null) throw JobFailure.permanent("no file to read in " + p);
    return sniff(first);
  }

  private static String orFail(String format, String path) {
    if (format == null) throw JobFailure.permanent("cannot tell the format of " + path + " from its extension: set source.format");
    return format;
  }

  static String fromExtension(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    if (n.endsWith(".csv") || n.endsWith(".tsv")) return "CSV";
    if (n.endsWith(".json")) return "JSON";
    if (n.endsWith(".ndjson") || n.endsWith(".jsonl")) return "NDJSON";
    if (n.endsWith(".parquet")) return "PARQUET";
    return null;
  }

  private static String sniff(Path file) {
    byte[] head = new byte[4096];
    int n;
    try (InputStream in = Files.newInputStream(file)) {
      n = in.readNBytes(head, 0, head.length);
    } catch (IOException e) {
      throw JobFailure.classify(e, "reading " + file);
    }
    String s = new String(head, 0, n, StandardCharsets.UTF_8);
    if (s.startsWith("PAR1")) return "PARQUET";
    for (char c : s.toCharArray()) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\ufeff') continue;
      return c == '[' ? "JSON" : c == '{' ? "NDJSON" : "CSV";
    }
    throw JobFailure.permanent("cannot tell the format of " + file + ": it is empty");
  }
}
