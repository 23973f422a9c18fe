package dev.jobwire.spark;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;

/**
 * Loads rows into a PostgreSQL table all or nothing, and at most once per run:
 * <ol>
 *   <li>{@link #prepare()}: the schema and the ledger table {@code <schema>._jobwire_loads} exist;
 *       a run already in the ledger is not loaded again; staging tables left by earlier attempts of
 *       this run (killed ones) are dropped;
 *   <li>{@link #stage}: Spark writes the rows over JDBC into a staging table of this attempt,
 *       {@code <schema>."<table>__jw_<runId8>_<attempt>"} (its column types from Spark's mapping);
 *   <li>{@link #commit()}: one transaction records the run in the ledger, creates the destination
 *       like the staging table if it is missing, copies the staged rows into it, drops the staging
 *       table and commits. A killed or failed attempt therefore leaves no row in the destination,
 *       and a retry after a commit whose success was never reported loads nothing twice.
 * </ol>
 */
final class PostgresLoader {
  static final String LEDGER = "_jobwire_loads";
  private static final int COMMIT_ATTEMPTS = 3;

  /** What the commit did: the rows copied into the destination, or (alreadyLoaded) the rows an earlier attempt of the run recorded. */
  static final class Loaded {
    final long rows;
    final boolean alreadyLoaded;

    Loaded(long rows, boolean alreadyLoaded) {
      this.rows = rows;
      this.alreadyLoaded = alreadyLoaded;
    }
  }

  private final JdbcTarget db;
  private final String schema;
  private final String table;
  private final UUID runId;
  private final int attempt;
  private final int batchSize;
  private final Consumer<String> log;
  private final String stagingPrefix;
  private final String staging;

  PostgresLoader(JdbcTarget db, String schema, String table, String runId, int attempt, int batchSize, Consumer<String> log) {
    this.db = db;
    this.schema = schema;
    this.table = table;
    this.runId = UUID.fromString(runId);
    this.attempt = attempt;
    this.batchSize = batchSize;
    this.log = log;
    // Cut so that the name fits PostgreSQL's 63 characters (it would truncate it silently).
    String base = table.length() > 40 ? table.substring(0, 40) : table;
    this.stagingPrefix = base + "__jw_" + runId.replace("-", "").substring(0, 8) + "_";
    this.staging = stagingPrefix + attempt;
  }

  String destination() {
    return Identifiers.quote(schema) + "." + Identifiers.quote(table);
  }

  private String qualified(String name) {
    return Identifiers.quote(schema) + "." + Identifiers.quote(name);
  }

  /** Prepares the load; returns the rows recorded when this run was already loaded, else null. */
  Long prepare() {
    try (Connection c = db.connect()) {
      try (Statement st = c.createStatement()) {
        if (!exists(c, "SELECT 1 FROM pg_namespace WHERE nspname = ?", schema)) {
          // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege.
          st.execute("CREATE SCHEMA IF NOT EXISTS " + Identifiers.quote(schema));
        }
        createLedger(st);
      }
      Long recorded = recordedRows(c);
      if (recorded != null) return recorded;
      for (String leftover : leftoverStagingTables(c)) {
        log.accept("dropping " + qualified(leftover) + ", left by an earlier attempt of this run");
        try (Statement st = c.createStatement()) {
          st.execute("DROP TABLE IF EXISTS " + qualified(leftover));
        }
      }
      return null;
    } catch (SQLException e) {
      throw JobFailure.classify(e, "preparing the load into " + destination());
    }
  }

  /** Writes {@code rows} into this attempt's staging table (replacing one of the same name). */
  void stage(Dataset<Row> rows) {
    Properties props = db.properties();
    props.setProperty("batchsize", String.valueOf(batchSize));
    rows.write().mode(SaveMode.Overwrite).jdbc(db.url, qualified(staging), props);
  }

  /** The rows in the staging table. */
  long stagedRows() {
    try (Connection c = db.connect();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM " + qualified(staging))) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw JobFailure.classify(e, "counting the staged rows");
    }
  }

  /** Drops this attempt's staging table; never throws (the next attempt of the run drops it otherwise). */
  void dropStaging() {
    try (Connection c = db.connect();
        Statement st = c.createStatement()) {
      st.execute("DROP TABLE IF EXISTS " + qualified(staging));
    } catch (SQLException e) {
      log.accept("could not drop " + qualified(staging) + " (the next attempt of this run drops it): " + e.getMessage());
    }
  }

  /** Copies the staged rows into the destination in one transaction (see the class comment). */
  Loaded commit() {
    for (int i = 1; ; i++) {
      try (Connection c = db.connect()) {
        c.setAutoCommit(false);
        try {
          Loaded loaded = commitIn(c);
          c.commit();
          return loaded;
        } catch (SQLException e) {
          c.rollback();
          throw e;
        }
      } catch (SQLException e) {
        // Another load created the same new table at the same instant (IF NOT EXISTS does not
        // prevent that race), or a deadlock or serialization failure: the transaction is retried.
        String state = e.getSQLState();
        boolean race = "42P07".equals(state) || "23505".equals(state) || "40001".equals(state) || "40P01".equals(state);
        if (!race || i >= COMMIT_ATTEMPTS) throw JobFailure.classify(e, "loading into " + destination());
        log.accept("the load into " + destination() + " collided with another (" + state + "): trying again");
      }
    }
  }

  private Loaded commitIn(Connection c) throws SQLException {
    // The ledger row first: its primary key serialises two attempts of one run, and a run that an
    // attempt already committed is not loaded again.
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO " + qualified(LEDGER) + " (run_id, attempt, rows, loaded_at) VALUES (?, ?, 0, now()) ON CONFLICT (run_id) DO NOTHING")) {
      ps.setObject(1, runId);
      ps.setInt(2, attempt);
      if (ps.executeUpdate() == 0) {
        c.rollback();
        Long recorded = recordedRows(c);
        return new Loaded(recorded == null ? 0 : recorded, true);
      }
    }
    List<String> stagedColumns = columns(c, staging);
    List<String> columns = columns(c, table);
    try (Statement st = c.createStatement()) {
      if (columns.isEmpty()) {
        st.execute("CREATE TABLE IF NOT EXISTS " + destination() + " (LIKE " + qualified(staging) + ")");
        log.accept("created " + destination() + " with the columns " + stagedColumns);
        columns = stagedColumns;
      }
      Set<String> common = new LinkedHashSet<>(stagedColumns);
      common.retainAll(columns);
      for (String s : stagedColumns) {
        if (!common.contains(s)) log.accept("source column " + s + " has no matching column in " + destination() + "; its values are ignored");
      }
      if (common.isEmpty()) {
        throw new SQLException("no column of the source matches a column of " + destination(), "42703");
      }
      List<String> quoted = new ArrayList<>();
      for (String col : common) quoted.add(Identifiers.quote(col));
      String list = String.join(", ", quoted);
      long rows = st.executeLargeUpdate("INSERT INTO " + destination() + " (" + list + ") SELECT " + list + " FROM " + qualified(staging));
      try (PreparedStatement ps = c.prepareStatement("UPDATE " + qualified(LEDGER) + " SET rows = ? WHERE run_id = ?")) {
        ps.setLong(1, rows);
        ps.setObject(2, runId);
        ps.executeUpdate();
      }
      st.execute("DROP TABLE " + qualified(staging));
      return new Loaded(rows, false);
    }
  }

  private void createLedger(Statement st) throws SQLException {
    try {
      st.execute("CREATE TABLE IF NOT EXISTS " + qualified(LEDGER)
          + " (run_id uuid PRIMARY KEY, attempt int NOT NULL, rows bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())");
    } catch (SQLException e) {
      // Created by another load at the same instant: it exists now.
      if (!"42P07".equals(e.getSQLState()) && !"23505".equals(e.getSQLState())) throw e;
    }
  }

  private Long recordedRows(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT rows FROM " + qualified(LEDGER) + " WHERE run_id = ?")) {
      ps.setObject(1, runId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : null;
      }
    }
  }

  private List<String> leftoverStagingTables(Connection c) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT tablename FROM pg_tables WHERE schemaname = ? AND left(tablename, ?) = ?")) {
      ps.setString(1, schema);
      ps.setInt(2, stagingPrefix.length());
      ps.setString(3, stagingPrefix);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.add(rs.getString(1));
      }
    }
    return out;
  }

  private List<String> columns(Connection c, String name) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position")) {
      ps.setString(1, schema);
      ps.setString(2, name);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.add(rs.getString(1));
      }
    }
    return out;
  }

  private static boolean exists(Connection c, String sql, String arg) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, arg);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }
}
