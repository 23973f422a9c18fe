package dev.jobwire.spark;

import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkConf;
import org.apache.spark.Success$;
import org.apache.spark.TaskKilled;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerApplicationStart;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Reports a Spark application's progress to jobwire as run events on Kafka (docs/events.md):
 * {@code stage.progress} with absolute task counts per stage, {@code run.metrics} (records and
 * bytes read, throughput, executors), {@code run.status RUNNING} at the start and {@code
 * run.heartbeat} while it runs. Any application can load it:
 * {@code spark.jars=…/jobwire-spark.jar}, {@code spark.extraListeners=dev.jobwire.spark.JobwireListener}.
 *
 * <p>Configured by Spark properties only:
 * <ul>
 *   <li>{@code spark.jobwire.kafka.brokers}: host:port list; absent, the listener does nothing;
 *   <li>{@code spark.jobwire.kafka.topic}: default {@code jobwire.run-events};
 *   <li>{@code spark.jobwire.runId} (absent: does nothing) and {@code spark.jobwire.attempt} (default 1);
 *   <li>{@code spark.jobwire.heartbeatMs}: default 10000.
 * </ul>
 * A job started with the local property {@link #COUNT_RECORDS} {@code =false} (a schema inference
 * pass, say) still reports its stages but adds nothing to the records and bytes processed.
 *
 * <p>Never blocks Spark's listener bus and never fails the application: events go through a
 * bounded queue to one sender thread ({@link KafkaEventSender}); a broken configuration or an
 * absent broker only costs the events.
 */
public class JobwireListener extends SparkListener {
  /** Local property: {@code false} on a job whose input is not records of the run. */
  public static final String COUNT_RECORDS = "jobwire.countRecords";

  static final int QUEUE_CAPACITY = 10_000;
  static final long STAGE_THROTTLE_MS = 250;
  static final long METRICS_INTERVAL_MS = 1000;
  static final int STAGE_NAME_MAX = 200;
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);
  private static final Logger LOG = LoggerFactory.getLogger(JobwireListener.class);

  /** What is known of one stage (all its attempts): partitions done, task failures. */
  private static final class Stage {
    final String name;
    int total;
    final BitSet done = new BitSet();
    int failed;
    String status = "RUNNING";
    long lastSentMs;
    boolean dirty;
    boolean countRecords = true;

    Stage(String name, int total) {
      this.name = name;
      this.total = total;
    }
  }

  private final RunEvents events;
  private final EventQueue queue;
  private final KafkaEventSender sender;
  private final ScheduledExecutorService ticker;
  private final long heartbeatMs;

  private final Map<Integer, Stage> stages = new HashMap<>();
  private final Map<Integer, Boolean> stageCountsRecords = new HashMap<>();
  /** Records and bytes read so far by running tasks (from executor heartbeats), by task id. */
  private final Map<Long, long[]> running = new HashMap<>();
  private final Set<String> executors = new HashSet<>();
  private final RateWindow rate = new RateWindow(5_000);
  private long recordsDone;
  private long bytesDone;
  private String lastMetrics = "";
  private boolean ended;

  public JobwireListener(SparkConf conf) {
    String brokers = conf.get("spark.jobwire.kafka.brokers", "").trim();
    String runId = conf.get("spark.jobwire.runId", "").trim();
    RunEvents ev = null;
    EventQueue q = null;
    KafkaEventSender s = null;
    ScheduledExecutorService t = null;
    long hb = 10_000;
    if (!brokers.isEmpty() && !runId.isEmpty()) {
      try {
        int attempt = Integer.parseInt(conf.get("spark.jobwire.attempt", "1").trim());
        hb = Math.max(100, Long.parseLong(conf.get("spark.jobwire.heartbeatMs", "10000").trim()));
        String topic = conf.get("spark.jobwire.kafka.topic", "jobwire.run-events").trim();
        String appId = conf.get("spark.app.id", "unknown");
        quietKafkaLogs();
        ev = new RunEvents(runId, attempt, appId);
        q = new EventQueue(QUEUE_CAPACITY);
        s = new KafkaEventSender(brokers, topic, "jobwire-spark-listener-" + appId, q);
        s.start();
        t = Executors.newSingleThreadScheduledExecutor(r -> {
          Thread th = new Thread(r, "jobwire-listener-ticker");
          th.setDaemon(true);
          return th;
        });
        LOG.info("jobwire listener: reporting run {} attempt {} to topic {} on {}", runId, attempt, topic, brokers);
      } catch (RuntimeException e) {
        LOG.warn("jobwire listener: disabled, its configuration does not work: {}", e.toString());
        if (s != null) s.close(Duration.ZERO);
        ev = null;
        q = null;
        s = null;
        t = null;
      }
    } else {
      LOG.info("jobwire listener: spark.jobwire.kafka.brokers or spark.jobwire.runId not set; reporting nothing");
    }
    this.events = ev;
    this.queue = q;
    this.sender = s;
    this.ticker = t;
    this.heartbeatMs = hb;
    if (ticker != null) {
      ticker.scheduleWithFixedDelay(this::guardedTick, STAGE_THROTTLE_MS, STAGE_THROTTLE_MS, TimeUnit.MILLISECONDS);
      ticker.scheduleWithFixedDelay(() -> guarded(this::heartbeat), heartbeatMs, heartbeatMs, TimeUnit.MILLISECONDS);
    }
  }

  private boolean enabled() {
    return events != null;
  }

  @Override
  public void onApplicationStart(SparkListenerApplicationStart e) {
    if (!enabled()) return;
    guarded(() -> {
      if (e.appId().isDefined()) events.setApplicationId(e.appId().get());
      enqueue(events.status("RUNNING"), false);
    });
  }

  @Override
  public void onJobStart(SparkListenerJobStart e) {
    if (!enabled()) return;
    guarded(() -> {
      Properties props = e.properties();
      boolean count = props == null || !"false".equals(props.getProperty(COUNT_RECORDS));
      synchronized (this) {
        for (Object id : CollectionConverters.asJava(e.stageIds())) stageCountsRecords.put((Integer) id, count);
      }
    });
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted e) {
    if (!enabled()) return;
    guarded(() -> {
      StageInfo info = e.stageInfo();
      synchronized (this) {
        Stage s = stage(info);
        s.total = Math.max(s.total, info.numTasks());
        s.status = "RUNNING";
        sendStage(s);
      }
    });
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    if (!enabled()) return;
    guarded(() -> {
      synchronized (this) {
        Stage s = stages.get(e.stageId());
        running.remove(e.taskInfo().taskId());
        if (e.reason() instanceof Success$) {
          if (s != null) s.done.set(e.taskInfo().partitionId() >= 0 ? e.taskInfo().partitionId() : e.taskInfo().index());
          TaskMetrics m = e.taskMetrics();
          if (m != null && (s == null || s.countRecords)) {
            recordsDone += m.inputMetrics().recordsRead();
            bytesDone += m.inputMetrics().bytesRead();
          }
        } else if (!(e.reason() instanceof TaskKilled) && s != null) {
          // Killed tasks (speculation, cancellation) are not failures of the data.
          s.failed++;
        }
        if (s == null) return;
        if (System.currentTimeMillis() - s.lastSentMs >= STAGE_THROTTLE_MS) sendStage(s);
        else s.dirty = true;
      }
    });
  }

  @Override
  public void onStageCompleted(SparkListenerStageCompleted e) {
    if (!enabled()) return;
    guarded(() -> {
      StageInfo info = e.stageInfo();
      synchronized (this) {
        Stage s = stage(info);
        s.status = info.failureReason().isDefined() ? "FAILED" : "COMPLETED";
        if (s.status.equals("COMPLETED")) s.done.set(0, s.total);
        sendStage(s);
      }
    });
  }

  @Override
  public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
    if (!enabled()) return;
    guarded(() -> {
      synchronized (this) {
        for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> u :
            CollectionConverters.asJava(e.accumUpdates())) {
          Stage s = stages.get((Integer) u._2());
          if (s != null && !s.countRecords) continue;
          long[] rb = running.computeIfAbsent((Long) u._1(), k -> new long[2]);
          for (AccumulableInfo a : CollectionConverters.asJava(u._4())) {
            if (a.name().isEmpty() || a.update().isEmpty() || !(a.update().get() instanceof Long)) continue;
            String name = a.name().get();
            if (name.equals("internal.metrics.input.recordsRead")) rb[0] = (Long) a.update().get();
            else if (name.equals("internal.metrics.input.bytesRead")) rb[1] = (Long) a.update().get();
          }
        }
      }
    });
  }

  @Override
  public void onExecutorAdded(SparkListenerExecutorAdded e) {
    if (!enabled()) return;
    synchronized (this) {
      if (!"driver".equals(e.executorId())) executors.add(e.executorId());
    }
  }

  @Override
  public void onExecutorRemoved(SparkListenerExecutorRemoved e) {
    if (!enabled()) return;
    synchronized (this) {
      executors.remove(e.executorId());
    }
  }

  @Override
  public void onApplicationEnd(SparkListenerApplicationEnd e) {
    if (!enabled()) return;
    synchronized (this) {
      if (ended) return;
      ended = true;
    }
    ticker.shutdownNow();
    guarded(() -> {
      synchronized (this) {
        for (Stage s : stages.values()) if (s.dirty) sendStage(s);
        sendMetrics(true);
      }
    });
    sender.close(CLOSE_TIMEOUT);
  }

  private Stage stage(StageInfo info) {
    Stage s = stages.get(info.stageId());
    if (s == null) {
      s = new Stage(stageName(info.stageId(), info.name()), info.numTasks());
      s.countRecords = stageCountsRecords.getOrDefault(info.stageId(), true);
      stages.put(info.stageId(), s);
    }
    return s;
  }

  /** The stage's name in jobwire: {@code stage <id>: <name>}, at most 200 characters (the poller names stages the same way). */
  static String stageName(int stageId, String name) {
    String n = "stage " + stageId + ": " + name;
    return n.length() > STAGE_NAME_MAX ? n.substring(0, STAGE_NAME_MAX) : n;
  }

  private void sendStage(Stage s) {
    int completed = Math.min(s.done.cardinality(), s.total);
    enqueue(events.stageProgress(s.name, s.total, completed, s.failed, s.status), true);
    s.lastSentMs = System.currentTimeMillis();
    s.dirty = false;
  }

  private void guardedTick() {
    guarded(() -> {
      synchronized (this) {
        long now = System.currentTimeMillis();
        for (Stage s : stages.values()) if (s.dirty && now - s.lastSentMs >= STAGE_THROTTLE_MS) sendStage(s);
        sendMetrics(false);
      }
    });
  }

  private long lastMetricsMs;

  /** A run.metrics sample at most once a second, and only when something changed (always when {@code force}). */
  private void sendMetrics(boolean force) {
    long now = System.currentTimeMillis();
    if (!force && now - lastMetricsMs < METRICS_INTERVAL_MS) return;
    long records = recordsDone;
    long bytes = bytesDone;
    for (long[] rb : running.values()) {
      records += rb[0];
      bytes += rb[1];
    }
    rate.add(now, records);
    double rps = rate.perSecond();
    String key = records + "/" + bytes + "/" + executors.size() + "/" + Math.round(rps);
    if (!force && key.equals(lastMetrics)) return;
    lastMetrics = key;
    lastMetricsMs = now;
    enqueue(events.metrics(records, bytes, rps, executors.size()), true);
  }

  private void heartbeat() {
    enqueue(events.heartbeat(), true);
  }

  private void enqueue(String json, boolean droppable) {
    queue.offer(new EventQueue.Event(events.runId(), json, droppable));
  }

  /** Runs a listener step; a failure is logged, never thrown into Spark's listener bus. */
  private void guarded(Runnable step) {
    try {
      step.run();
    } catch (Throwable t) {
      LOG.warn("jobwire listener: an event could not be reported: {}", t.toString());
    }
  }

  /** kafka-clients logs its whole configuration at INFO for each producer: keep the driver's log readable. */
  private static void quietKafkaLogs() {
    try {
      org.apache.logging.log4j.core.config.Configurator.setLevel(
          org.apache.kafka.clients.producer.KafkaProducer.class.getPackageName().replaceFirst("\\.clients\\.producer$", ""),
          org.apache.logging.log4j.Level.WARN);
    } catch (Throwable ignored) {
      // Not log4j 2 core: the application's own logging decides.
    }
  }
}
