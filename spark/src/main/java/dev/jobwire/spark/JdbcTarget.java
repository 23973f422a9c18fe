package dev.jobwire.spark;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * A PostgreSQL database as JDBC sees it: {@code jdbc:postgresql://host:port/db} (query parameters
 * kept, such as {@code sslmode}) and the user and password as separate properties, never in the URL,
 * so that neither Spark's plans nor its logs can show them.
 */
public final class JdbcTarget {
  /** The shaded driver in this jar (relocated: an application's own PostgreSQL driver cannot clash with it). */
  public static final String DRIVER = shadedDriverClass();

  public final String url;
  public final String user;
  private final String password;

  JdbcTarget(String url, String user, String password) {
    this.url = url;
    this.user = user;
    this.password = password;
  }

  /** From {@code postgres://user:pw@host:5432/db?sslmode=require} (or {@code postgresql://}); PERMANENT when malformed. The message never echoes the URL. */
  public static JdbcTarget fromUrl(String connectionString, String what) {
    URI uri;
    try {
      uri = new URI(connectionString == null ? "" : connectionString.strip());
    } catch (URISyntaxException e) {
      throw JobFailure.permanent(what + " is not a valid postgres:// URL");
    }
    String scheme = uri.getScheme();
    if (scheme == null || !(scheme.equals("postgres") || scheme.equals("postgresql"))) {
      throw JobFailure.permanent(what + " must be a postgres:// or postgresql:// URL");
    }
    if (uri.getHost() == null || uri.getHost().isEmpty()) throw JobFailure.permanent(what + " must name a host");
    String db = uri.getRawPath() == null ? "" : uri.getRawPath().replaceFirst("^/", "");
    if (db.isEmpty()) throw JobFailure.permanent(what + " must name a database");
    String user = null;
    String password = null;
    if (uri.getRawUserInfo() != null) {
      String[] parts = uri.getRawUserInfo().split(":", 2);
      user = decode(parts[0]);
      if (parts.length > 1) password = decode(parts[1]);
    }
    int port = uri.getPort() > 0 ? uri.getPort() : 5432;
    String query = uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery();
    return new JdbcTarget("jdbc:postgresql://" + hostPart(uri.getHost()) + ":" + port + "/" + db + query, user, password);
  }

  /**
   * From a PostgreSQL source's params: {@code connectionString}, or {@code host}, {@code port}
   * (default 5432), {@code database}, {@code user}, {@code password}.
   */
  public static JdbcTarget fromParams(JsonNode params) {
    JsonNode cs = params.get("connectionString");
    if (cs != null && !cs.isNull()) return fromUrl(cs.asText(), "source.params.connectionString");
    String host = text(params, "host");
    String database = text(params, "database");
    if (host == null || database == null) {
      throw JobFailure.permanent("source.params: give connectionString (postgres://…) or host and database");
    }
    int port = params.hasNonNull("port") ? params.get("port").asInt(5432) : 5432;
    String db = URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
    return new JdbcTarget("jdbc:postgresql://" + hostPart(host) + ":" + port + "/" + db, text(params, "user"), text(params, "password"));
  }

  /** The password, to register with the {@link Redactor} (null when there is none). */
  public String password() {
    return password;
  }

  /** Properties for Spark's JDBC source and sink and for {@link #connect()}: driver, user, password. */
  public Properties properties() {
    Properties p = new Properties();
    p.setProperty("driver", DRIVER);
    if (user != null) p.setProperty("user", user);
    if (password != null) p.setProperty("password", password);
    // A dead server must not hang a driver forever: fail within a minute, as TRANSIENT.
    p.setProperty("connectTimeout", "30");
    p.setProperty("ApplicationName", "jobwire-spark");
    return p;
  }

  public Connection connect() throws SQLException {
    try {
      Class.forName(DRIVER);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException("the PostgreSQL driver is missing from jobwire-spark.jar", e);
    }
    return DriverManager.getConnection(url, properties());
  }

  private static String shadedDriverClass() {
    // Written so that the shade plugin's relocation rewrites this constant too.
    return org.postgresql.Driver.class.getName();
  }

  private static String hostPart(String host) {
    return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  private static String text(JsonNode n, String key) {
    JsonNode v = n.get(key);
    return v == null || v.isNull() ? null : v.asText();
  }
}
