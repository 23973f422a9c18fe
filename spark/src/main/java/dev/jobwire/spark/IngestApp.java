package dev.jobwire.spark;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.function.FilterFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.NullType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;

/**
 * jobwire's built-in ingestion application: reads a LOCAL file set (CSV, JSON, NDJSON, Parquet) or
 * a PostgreSQL table or query and loads it into a PostgreSQL table, all or nothing and at most once
 * per run ({@link PostgresLoader}). Bad rows are counted and left out; more than
 * {@code maxFailedRowRatio} of them fails the run PERMANENT and loads nothing.
 *
 * <p>Input: the {@code JOBWIRE_SPEC} environment variable, base64 of the JSON spec ({@link
 * IngestSpec}); without it, the first argument. The spec and its secrets are never printed.
 * Output: the {@code JOBWIRE …} lines on stderr ({@link Reporter}); exit status 0 on success, 1 on
 * failure (the driver then ends FAILED).
 */
public final class IngestApp {
  private final SparkSession spark;
  private final IngestSpec spec;
  private final Reporter reporter;

  IngestApp(SparkSession spark, IngestSpec spec, Reporter reporter) {
    this.spark = spark;
    this.spec = spec;
    this.reporter = reporter;
  }

  public static void main(String[] args) {
    int status = run(System.getenv("JOBWIRE_SPEC"), args);
    // Non-zero: the driver must end FAILED, whatever threads are left.
    if (status != 0) System.exit(status);
  }

  static int run(String envSpec, String[] args) {
    Redactor redactor = new Redactor();
    Reporter reporter = new Reporter(System.err, redactor);
    IngestSpec spec;
    try {
      String encoded = envSpec != null && !envSpec.isBlank() ? envSpec : args.length > 0 ? args[0] : null;
      if (encoded == null) throw JobFailure.permanent("no spec: set JOBWIRE_SPEC (base64 of the JSON spec) or pass it as the first argument");
      spec = IngestSpec.fromBase64(encoded);
    } catch (JobFailure f) {
      reporter.error(f.kind(), f.getMessage());
      return 1;
    }
    spec.secrets().forEach(redactor::add);
    reporter.started(spec.runId, spec.attempt);

    SparkSession spark = null;
    try {
      SparkSession.Builder builder = SparkSession.builder().appName("jobwire-ingest-" + spec.runId);
      // A local run (java -cp … IngestApp <spec>) has no master from spark-submit or the REST server.
      if (!new SparkConf().contains("spark.master")) builder.master("local[2]");
      spark = builder.getOrCreate();
      new IngestApp(spark, spec, reporter).ingest();
      return 0;
    } catch (Throwable t) {
      JobFailure f = JobFailure.classify(t, null);
      reporter.info("the ingestion failed: " + stackTrace(t));
      reporter.error(f.kind(), f.getMessage());
      return 1;
    } finally {
      if (spark != null) {
        try {
          spark.stop();
        } catch (Throwable t) {
          reporter.info("stopping Spark failed: " + t);
        }
      }
    }
  }

  void ingest() {
    JdbcTarget db = JdbcTarget.fromUrl(spec.destinationUrl, "destination.url");
    PostgresLoader loader = new PostgresLoader(db, spec.destinationSchema, spec.destinationTable, spec.runId, spec.attempt,
        spec.batchSize, reporter::info);
    Long recorded = loader.prepare();
    if (recorded != null) {
      reporter.info("run " + spec.runId + " was already loaded into " + loader.destination() + " (" + recorded + " rows): nothing to do");
      reporter.result(recorded, recorded, 0, true);
      return;
    }

    SourceReader.Opened source = new SourceReader(spark, spec).open();
    reporter.info("reading " + source.description + " into " + loader.destination());
    LongAccumulator bad = spark.sparkContext().longAccumulator("jobwire.badRows");
    Dataset<Row> rows = forPostgres(goodRows(source, bad));
    boolean committed = false;
    try {
      spark.sparkContext().setCallSite("load " + source.description + " into a staging table");
      try {
        loader.stage(rows);
      } finally {
        spark.sparkContext().clearCallSite();
      }
      long good = loader.stagedRows();
      long failed = bad.value();
      long read = good + failed;
      reporter.read(read, failed);
      if (read > 0 && (double) failed / read > spec.maxFailedRowRatio) {
        throw JobFailure.permanent(String.format("too many bad rows: %d of %d rows read failed (%d good; %s), more than the allowed %s",
            failed, read, good, percent((double) failed / read), percent(spec.maxFailedRowRatio)));
      }
      PostgresLoader.Loaded loaded = loader.commit();
      committed = true;
      if (loaded.alreadyLoaded) {
        reporter.info("another attempt of run " + spec.runId + " loaded it meanwhile: nothing loaded");
        reporter.result(loaded.rows, loaded.rows, 0, true);
      } else {
        reporter.info("loaded " + loaded.rows + " rows into " + loader.destination() + " (" + failed + " bad rows left out)");
        reporter.result(read, loaded.rows, failed, false);
      }
    } finally {
      if (!committed) loader.dropStaging();
    }
  }

  /** The rows without a parse error, counting the others in {@code bad}; the corrupt-record column dropped. */
  static Dataset<Row> goodRows(SourceReader.Opened source, LongAccumulator bad) {
    if (source.corruptColumn == null) return source.rows;
    int index = source.rows.schema().fieldIndex(source.corruptColumn);
    return source.rows.filter(new GoodRow(index, bad)).drop(source.corruptColumn);
  }

  /**
   * Column names sanitised as the LOCAL executor does, and values PostgreSQL over JDBC can take:
   * nested values (structs, arrays, maps) as JSON text, always-null columns as text.
   */
  static Dataset<Row> forPostgres(Dataset<Row> rows) {
    StructType schema = rows.schema();
    List<String> raw = new ArrayList<>();
    for (StructField f : schema.fields()) raw.add(f.name());
    if (raw.isEmpty()) throw JobFailure.permanent("the source has no columns");
    List<String> names = Identifiers.sanitizeAll(raw);
    Column[] columns = new Column[raw.size()];
    for (int i = 0; i < raw.size(); i++) {
      Column c = rows.col(SourceReader.quoteColumn(raw.get(i)));
      DataType t = schema.fields()[i].dataType();
      if (t instanceof StructType || t instanceof ArrayType || t instanceof MapType) c = functions.to_json(c);
      else if (t instanceof NullType) c = c.cast(DataTypes.StringType);
      columns[i] = c.as(names.get(i));
    }
    return rows.select(columns);
  }

  /** Keeps rows whose corrupt-record column is null; counts the others. */
  static final class GoodRow implements FilterFunction<Row> {
    private static final long serialVersionUID = 1L;
    private final int corruptIndex;
    private final LongAccumulator bad;

    GoodRow(int corruptIndex, LongAccumulator bad) {
      this.corruptIndex = corruptIndex;
      this.bad = bad;
    }

    @Override
    public boolean call(Row row) {
      if (row.isNullAt(corruptIndex)) return true;
      bad.add(1);
      return false;
    }
  }

  private static String percent(double ratio) {
    return String.format("%.1f%%", ratio * 100);
  }

  private static String stackTrace(Throwable t) {
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    return w.toString();
  }
}
