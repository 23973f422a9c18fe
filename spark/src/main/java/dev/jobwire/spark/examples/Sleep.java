package dev.jobwire.spark.examples;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * A stand-in workload for trying a user application on jobwire (and for its tests): runs {@code
 * tasks} tasks (default 8) that each sleep {@code millis} ms (default 2000), in {@code stages}
 * stages (default 1), so stage progress moves visibly and a run can be stopped mid-way.
 *
 * <p>Arguments: {@code [tasks] [millis] [stages]}.
 */
public final class Sleep {
  public static void main(String[] args) {
    int tasks = args.length > 0 ? Integer.parseInt(args[0]) : 8;
    long millis = args.length > 1 ? Long.parseLong(args[1]) : 2000;
    int stages = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    SparkSession spark = SparkSession.builder().appName("jobwire-sleep").getOrCreate();
    try (JavaSparkContext sc = new JavaSparkContext(spark.sparkContext())) {
      List<Integer> items = new ArrayList<>();
      for (int i = 0; i < tasks; i++) items.add(i);
      for (int s = 0; s < stages; s++) {
        long slept = sc.parallelize(items, tasks).map(i -> {
          Thread.sleep(millis);
          return 1L;
        }).reduce(Long::sum);
        System.out.println("stage " + (s + 1) + " of " + stages + ": " + slept + " tasks slept " + millis + " ms each");
      }
    }
    spark.stop();
  }
}
