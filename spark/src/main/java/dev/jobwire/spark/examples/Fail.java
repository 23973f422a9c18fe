package dev.jobwire.spark.examples;

import org.apache.spark.sql.SparkSession;

/**
 * A user application that fails: after one small Spark job it throws an {@code IllegalStateException}
 * with the message given as its arguments (default "this application always fails"). What a failing
 * user application looks like to jobwire: the run ends FAILED with this message.
 */
public final class Fail {
  public static void main(String[] args) {
    String message = args.length > 0 ? String.join(" ", args) : "this application always fails";
    SparkSession spark = SparkSession.builder().appName("jobwire-fail").getOrCreate();
    long n = spark.range(0, 1000).count();
    System.out.println("counted " + n + " rows, now failing on purpose");
    throw new IllegalStateException(message);
  }
}
