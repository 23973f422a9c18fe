import {
  DRIVER_STATES,
  driverLogLines,
  driverOutcome,
  failureFromStderr,
  jobwireLines,
  scrubLogSecrets,
  sparkUiUrl,
  workerLogPage,
} from '../../src/backends/spark/driver-state';
import { ErrorKind, RunStatus } from '../../src/domain';

const RUN_ID = '0196f5a2-1111-7000-8000-000000000001';

/** A Spark 4.2 driver's stderr, launched by a standalone worker in cluster mode, up to a successful end. */
const STARTUP = `Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties
26/12/01 10:00:01 INFO DriverWrapper: Driver address: 127.0.0.1:40123
26/12/01 10:00:01 INFO SecurityManager: Changing view acls to: jobwire
26/12/01 10:00:02 INFO SparkContext: Running Spark version 4.2.0
26/12/01 10:00:02 INFO SparkContext: Submitted application: jobwire-${RUN_ID}
26/12/01 10:00:03 INFO Utils: Successfully started service 'SparkUI' on port 4041.
26/12/01 10:00:03 INFO SparkUI: Bound SparkUI to 0.0.0.0, and started at http://127.0.0.1:4041
26/12/01 10:00:03 INFO StandaloneAppClient$ClientEndpoint: Connecting to master spark://127.0.0.1:7077...
26/12/01 10:00:04 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID app-20261201100004-0000
26/12/01 10:00:04 WARN Utils: Your hostname, box resolves to a loopback address: 127.0.1.1; using 127.0.0.1 instead
JOBWIRE {"type":"started","runId":"${RUN_ID}","attempt":1}
`;
const SUCCESS = `${STARTUP}26/12/01 10:00:09 INFO DAGScheduler: Job 0 finished: count at Ingest.scala:42, took 2.104 s
JOBWIRE {"type":"read","rows":1200,"failed":3}
JOBWIRE {"type":"result","rowsRead":1200,"rowsWritten":1197,"rowsFailed":3,"alreadyLoaded":false}
26/12/01 10:00:11 INFO SparkContext: Successfully stopped SparkContext
26/12/01 10:00:11 INFO ShutdownHookManager: Shutdown hook called
`;

/** DriverWrapper calls the application's main by reflection: what main throws comes wrapped. */
const wrapped = (cause: string) => `${STARTUP}26/12/01 10:00:05 INFO DAGScheduler: Job 0 failed: count at Ingest.scala:42, took 0.912 s
Exception in thread "main" java.lang.reflect.InvocationTargetException
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:118)
\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)
\tat org.apache.spark.deploy.worker.DriverWrapper$.main(DriverWrapper.scala:63)
\tat org.apache.spark.deploy.worker.DriverWrapper.main(DriverWrapper.scala)
${cause}26/12/01 10:00:05 INFO ShutdownHookManager: Shutdown hook called
26/12/01 10:00:05 INFO ShutdownHookManager: Deleting directory /tmp/spark-4be0c2d1
`;

const BOOM = `${STARTUP}Exception in thread "main" java.lang.RuntimeException: boom
\tat com.example.Ingest$.main(Ingest.scala:57)
\tat com.example.Ingest.main(Ingest.scala)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)
\tat org.apache.spark.deploy.worker.DriverWrapper$.main(DriverWrapper.scala:63)
\tat org.apache.spark.deploy.worker.DriverWrapper.main(DriverWrapper.scala)
26/12/01 10:00:05 INFO ShutdownHookManager: Shutdown hook called
`;

const WRAPPED_BOOM = wrapped(`Caused by: java.lang.RuntimeException: boom
\tat com.example.Ingest$.main(Ingest.scala:57)
\tat com.example.Ingest.main(Ingest.scala)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
\t... 3 more
`);

/** A submission whose mainClass is not in the jar: DriverWrapper's own Class.forName fails, unwrapped. */
const BAD_MAIN_CLASS = `Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties
26/12/01 10:00:01 INFO DriverWrapper: Driver address: 127.0.0.1:40123
Exception in thread "main" java.lang.ClassNotFoundException: com.example.Nope
\tat java.base/java.net.URLClassLoader.findClass(URLClassLoader.java:445)
\tat java.base/java.lang.ClassLoader.loadClass(ClassLoader.java:593)
\tat org.apache.spark.util.ParentClassLoader.loadClass(ParentClassLoader.java:40)
\tat java.base/java.lang.ClassLoader.loadClass(ClassLoader.java:526)
\tat java.base/java.lang.Class.forName0(Native Method)
\tat java.base/java.lang.Class.forName(Class.java:534)
\tat org.apache.spark.util.SparkClassUtils.classForName(SparkClassUtils.scala:42)
\tat org.apache.spark.util.Utils$.classForName(Utils.scala:99)
\tat org.apache.spark.deploy.worker.DriverWrapper$.main(DriverWrapper.scala:58)
\tat org.apache.spark.deploy.worker.DriverWrapper.main(DriverWrapper.scala)
`;

const PSQL_REFUSED =
  wrapped(`Caused by: org.postgresql.util.PSQLException: Connection to 127.0.0.1:5433 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.
\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:352)
\tat org.postgresql.core.ConnectionFactory.openConnection(ConnectionFactory.java:54)
\tat org.postgresql.jdbc.PgConnection.<init>(PgConnection.java:273)
\tat org.postgresql.Driver.makeConnection(Driver.java:446)
\tat org.postgresql.Driver.connect(Driver.java:298)
\tat org.apache.spark.sql.execution.datasources.jdbc.connection.BasicConnectionProvider.getConnection(BasicConnectionProvider.scala:49)
\tat com.example.Ingest$.main(Ingest.scala:31)
\t... 4 more
Caused by: java.net.ConnectException: Connection refused
\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)
\tat java.base/sun.nio.ch.Net.pollConnectNow(Net.java:682)
\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:542)
\tat java.base/java.net.Socket.connect(Socket.java:751)
\tat org.postgresql.core.PGStream.createSocket(PGStream.java:260)
\t... 22 more
`);

describe('driverOutcome', () => {
  const killedOutside = { message: 'the driver was killed outside jobwire', kind: ErrorKind.TRANSIENT, details: null };
  const lost = { message: 'the Spark master lost the driver', kind: ErrorKind.TRANSIENT, details: null };
  const failedDefault = {
    message: 'the Spark driver failed (exit status non-zero); see the driver log',
    kind: ErrorKind.PERMANENT,
    details: null,
  };
  const notLaunched = {
    message: 'the Spark worker could not launch the driver; see the worker log',
    kind: ErrorKind.PERMANENT,
    details: null,
  };
  // [state, stopRequested, status, error]: every state, asked to stop or not.
  const table: [string, boolean, RunStatus, object | undefined][] = [
    ['SUBMITTED', false, RunStatus.QUEUED, undefined],
    ['SUBMITTED', true, RunStatus.QUEUED, undefined],
    ['RUNNING', false, RunStatus.RUNNING, undefined],
    ['RUNNING', true, RunStatus.RUNNING, undefined],
    ['RELAUNCHING', false, RunStatus.RUNNING, undefined],
    ['RELAUNCHING', true, RunStatus.RUNNING, undefined],
    ['FINISHED', false, RunStatus.SUCCEEDED, undefined],
    ['FINISHED', true, RunStatus.SUCCEEDED, undefined],
    ['KILLED', false, RunStatus.FAILED, killedOutside],
    ['KILLED', true, RunStatus.CANCELLED, undefined],
    ['FAILED', false, RunStatus.FAILED, failedDefault],
    ['FAILED', true, RunStatus.FAILED, failedDefault],
    ['ERROR', false, RunStatus.FAILED, notLaunched],
    ['ERROR', true, RunStatus.FAILED, notLaunched],
    ['UNKNOWN', false, RunStatus.FAILED, lost],
    ['UNKNOWN', true, RunStatus.FAILED, lost],
  ];

  it('covers every driver state Spark has', () => {
    expect(new Set(table.map(([s]) => s))).toEqual(new Set(DRIVER_STATES));
  });

  it.each(table)('%s (stop requested: %s) → %s', (state, stopRequested, status, error) => {
    expect(driverOutcome(state, { stopRequested })).toEqual({ status, engineState: state, ...(error ? { error } : {}) });
  });

  it('keeps the engine state verbatim and fails a state it does not know as lost (TRANSIENT: it retries)', () => {
    expect(driverOutcome('DECOMMISSIONED')).toEqual({
      status: RunStatus.FAILED,
      engineState: 'DECOMMISSIONED',
      error: {
        message: 'the Spark master lost the driver (it reports driver state "DECOMMISSIONED", which jobwire does not know)',
        kind: ErrorKind.TRANSIENT,
        details: null,
      },
    });
    expect(driverOutcome('relaunching').engineState).toBe('relaunching');
    expect(driverOutcome('relaunching').status).toBe(RunStatus.RUNNING);
    expect(driverOutcome('').error).toEqual(lost);
  });

  it('fails a FINISHED driver whose application reported an error, with that error', () => {
    const stderr = `${STARTUP}JOBWIRE {"type":"error","kind":"PERMANENT","message":"destination table public.orders has no column \\"amount\\""}\n`;
    expect(driverOutcome('FINISHED', { stderr })).toEqual({
      status: RunStatus.FAILED,
      engineState: 'FINISHED',
      error: { message: 'destination table public.orders has no column "amount"', kind: ErrorKind.PERMANENT, details: null },
    });
    expect(driverOutcome('FINISHED', { stderr: SUCCESS })).toEqual({ status: RunStatus.SUCCEEDED, engineState: 'FINISHED' });
  });

  it('fails a FAILED driver with what its stderr says, or with its last lines', () => {
    expect(driverOutcome('FAILED', { stderr: PSQL_REFUSED }).error).toMatchObject({ kind: ErrorKind.TRANSIENT });
    const quiet = driverOutcome('FAILED', { stderr: '26/12/01 10:00:01 INFO DriverWrapper: Driver address: 127.0.0.1:40123\nbye\n' });
    expect(quiet.error).toEqual({
      ...failedDefault,
      details: '26/12/01 10:00:01 INFO DriverWrapper: Driver address: 127.0.0.1:40123\nbye',
    });
  });

  it('fails an ERROR driver with the cause the REST status carries', () => {
    const message =
      'Exception from the cluster:\njava.nio.file.NoSuchFileException: /opt/jobwire/jobwire-spark.jar\n' +
      '\tjava.base/sun.nio.fs.UnixException.translateToIOException(UnixException.java:92)\n' +
      '\torg.apache.spark.deploy.worker.DriverRunner.downloadUserJar(DriverRunner.scala:160)';
    expect(driverOutcome('ERROR', { message, stderr: null })).toEqual({
      status: RunStatus.FAILED,
      engineState: 'ERROR',
      error: {
        message: 'the Spark worker could not launch the driver: java.nio.file.NoSuchFileException: /opt/jobwire/jobwire-spark.jar',
        kind: ErrorKind.PERMANENT,
        details: message.replace('Exception from the cluster:\n', ''),
      },
    });
    const refused =
      'Exception from the cluster:\njava.net.ConnectException: Connection refused\n\tjava.base/sun.nio.ch.Net.connect0(Native Method)';
    expect(driverOutcome('ERROR', { message: refused }).error?.kind).toBe(ErrorKind.TRANSIENT);
    expect(driverOutcome('ERROR', { stderr: BAD_MAIN_CLASS }).error?.message).toBe(
      'main class com.example.Nope not found in the application jar',
    );
  });
});

describe('failureFromStderr', () => {
  it('finds nothing in a driver log that ended well', () => {
    expect(failureFromStderr(SUCCESS)).toBeNull();
    expect(failureFromStderr('')).toBeNull();
  });

  it('tells the exception the driver died of, with the first lines of its trace', () => {
    const f = failureFromStderr(BOOM)!;
    expect(f.message).toBe('java.lang.RuntimeException: boom');
    expect(f.kind).toBe(ErrorKind.PERMANENT);
    expect(f.details).toBe(BOOM.split('\n').slice(11, 18).join('\n'));
  });

  it("names the application's exception, not DriverWrapper's reflective wrapper", () => {
    const f = failureFromStderr(WRAPPED_BOOM)!;
    expect(f).toMatchObject({ message: 'java.lang.RuntimeException: boom', kind: ErrorKind.PERMANENT });
    expect(f.details?.split('\n')[0]).toBe('Exception in thread "main" java.lang.reflect.InvocationTargetException');
    expect(f.details).toContain('Caused by: java.lang.RuntimeException: boom');
    expect(f.details).not.toContain('ShutdownHookManager');
  });

  it('says a bad main class in those terms (PERMANENT)', () => {
    expect(failureFromStderr(BAD_MAIN_CLASS)).toMatchObject({
      message: 'main class com.example.Nope not found in the application jar',
      kind: ErrorKind.PERMANENT,
    });
    const wrappedCnf = wrapped(
      'Caused by: java.lang.ClassNotFoundException: org.postgresql.Driver\n\tat com.example.Ingest$.main(Ingest.scala:20)\n',
    );
    expect(failureFromStderr(wrappedCnf)?.message).toBe('java.lang.ClassNotFoundException: org.postgresql.Driver');
    const noMain = BAD_MAIN_CLASS.replace(
      'java.lang.ClassNotFoundException: com.example.Nope',
      'java.lang.NoSuchMethodException: com.example.Ingest.main([Ljava.lang.String;)',
    );
    expect(failureFromStderr(noMain)).toMatchObject({
      message: 'main class com.example.Ingest has no main(String[]) method',
      kind: ErrorKind.PERMANENT,
    });
  });

  it('fails a refused database connection TRANSIENT, naming the database error and its root cause', () => {
    expect(failureFromStderr(PSQL_REFUSED)).toMatchObject({
      message:
        'org.postgresql.util.PSQLException: Connection to 127.0.0.1:5433 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections. (caused by java.net.ConnectException: Connection refused)',
      kind: ErrorKind.TRANSIENT,
    });
  });

  it.each([
    ['java.net.SocketTimeoutException: Read timed out', ErrorKind.TRANSIENT],
    ['java.net.UnknownHostException: db.internal', ErrorKind.TRANSIENT],
    ['java.io.IOException: Connection reset by peer', ErrorKind.TRANSIENT],
    ['org.postgresql.util.PSQLException: The connection attempt failed.', ErrorKind.TRANSIENT],
    ['org.postgresql.util.PSQLException: FATAL: the database system is starting up', ErrorKind.TRANSIENT],
    [
      'org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 1.0 failed 4 times: java.net.ConnectException: Connection refused',
      ErrorKind.TRANSIENT,
    ],
    [
      'org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND] Path does not exist: file:/data/in/missing.csv. SQLSTATE: 42K03',
      ErrorKind.PERMANENT,
    ],
    ['java.io.FileNotFoundException: /data/in/orders.csv (No such file or directory)', ErrorKind.PERMANENT],
    ['java.lang.IllegalArgumentException: requirement failed: batchSize must be positive', ErrorKind.PERMANENT],
    ['java.lang.NumberFormatException: For input string: "12x"', ErrorKind.PERMANENT],
    ['org.postgresql.util.PSQLException: ERROR: syntax error at or near "FORM"', ErrorKind.PERMANENT],
    ["java.lang.NoSuchMethodError: 'void org.example.Lib.call()'", ErrorKind.PERMANENT],
    ['com.example.SomethingNewException: who knows', ErrorKind.PERMANENT],
  ])('classifies %s as %s', (exception, kind) => {
    expect(failureFromStderr(wrapped(`Caused by: ${exception}\n\tat com.example.Ingest$.main(Ingest.scala:20)\n`))?.kind).toBe(kind);
  });

  it('keeps a multi-line message (a SQL parse error and its caret)', () => {
    const f = failureFromStderr(
      wrapped(`Caused by: org.apache.spark.sql.catalyst.parser.ParseException: 
[PARSE_SYNTAX_ERROR] Syntax error at or near 'FORM'. SQLSTATE: 42601 (line 1, pos 9)

== SQL ==
SELECT * FORM orders
---------^^^

\tat org.apache.spark.sql.catalyst.parser.ParseException.withCommand(parsers.scala:274)
\tat com.example.Ingest$.main(Ingest.scala:44)
`),
    )!;
    expect(f.kind).toBe(ErrorKind.PERMANENT);
    expect(f.message).toBe(
      "org.apache.spark.sql.catalyst.parser.ParseException: [PARSE_SYNTAX_ERROR] Syntax error at or near 'FORM'. SQLSTATE: 42601 (line 1, pos 9)\n\n== SQL ==\nSELECT * FORM orders\n---------^^^",
    );
  });

  it("reads a failed Spark job through the driver's stack trace to the task's exception", () => {
    const stderr =
      wrapped(`Caused by: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 0.0 failed 4 times, most recent failure: Lost task 0.3 in stage 0.0 (TID 3) (127.0.0.1 executor 0): java.lang.RuntimeException: bad row 17
\tat com.example.Ingest$.$anonfun$main$1(Ingest.scala:40)
\tat scala.collection.Iterator$$anon$9.next(Iterator.scala:584)

Driver stacktrace:
\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2898)
\tat org.apache.spark.scheduler.DAGScheduler.$anonfun$abortStage$2(DAGScheduler.scala:2834)
\tat com.example.Ingest$.main(Ingest.scala:44)
\t... 4 more
Caused by: java.lang.RuntimeException: bad row 17
\tat com.example.Ingest$.$anonfun$main$1(Ingest.scala:40)
\t... 1 more
`);
    const f = failureFromStderr(stderr)!;
    expect(f).toMatchObject({
      message:
        'org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 0.0 failed 4 times, most recent failure: Lost task 0.3 in stage 0.0 (TID 3) (127.0.0.1 executor 0): java.lang.RuntimeException: bad row 17',
      kind: ErrorKind.PERMANENT,
    });
    expect(f.details).toContain('Driver stacktrace:');
    expect(f.details?.trimEnd().endsWith('\t... 1 more')).toBe(true);
  });

  it('reads a tail that cut the start of the exception off', () => {
    const tail = PSQL_REFUSED.slice(PSQL_REFUSED.indexOf('\tat java.base/java.lang.reflect.Method.invoke'));
    expect(failureFromStderr(tail)).toMatchObject({
      message: expect.stringMatching(/^org\.postgresql\.util\.PSQLException: Connection to 127\.0\.0\.1:5433 refused/),
      kind: ErrorKind.TRANSIENT,
    });
  });

  it('says an OutOfMemoryError will not pass by retrying, and what to change', () => {
    const f = failureFromStderr(
      `${STARTUP}Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3541)\n`,
    )!;
    expect(f.kind).toBe(ErrorKind.PERMANENT);
    expect(f.message).toMatch(/^java\.lang\.OutOfMemoryError: Java heap space — .*MEMORY_OPTIMIZED.*spark\.executor\.memory/);
  });

  it('falls back to the exception an ERROR log line logged', () => {
    const stderr = `${STARTUP}26/12/01 10:00:02 WARN TaskSetManager: Lost task 0.0 in stage 0.0 (TID 0): retrying
java.io.IOException: Connection reset by peer
\tat java.base/sun.nio.ch.SocketDispatcher.read0(Native Method)
26/12/01 10:00:02 ERROR SparkContext: Error initializing SparkContext.
java.lang.IllegalArgumentException: System memory 259522560 must be at least 471859200. Please increase heap size using the --driver-memory option or spark.driver.memory in Spark configuration.
\tat org.apache.spark.memory.UnifiedMemoryManager$.getMaxMemory(UnifiedMemoryManager.scala:335)
\tat org.apache.spark.SparkContext.<init>(SparkContext.scala:486)
26/12/01 10:00:02 INFO SparkContext: SparkContext is stopping with exitCode 0.
`;
    expect(failureFromStderr(stderr)).toMatchObject({
      message: expect.stringMatching(/^java\.lang\.IllegalArgumentException: System memory 259522560 must be at least 471859200/),
      kind: ErrorKind.PERMANENT,
    });
    // A warned exception alone is not what the driver failed of.
    expect(failureFromStderr(stderr.split('26/12/01 10:00:02 ERROR')[0])).toBeNull();
  });

  it("prefers the application's own JOBWIRE error line (its kind and message), with the trace as details", () => {
    const stderr = `${WRAPPED_BOOM}JOBWIRE {"type":"error","kind":"TRANSIENT","message":"the source answered 503"}\n`;
    const f = failureFromStderr(stderr)!;
    expect(f).toMatchObject({ message: 'the source answered 503', kind: ErrorKind.TRANSIENT });
    expect(f.details).toContain('Caused by: java.lang.RuntimeException: boom');
  });

  it('never says a secret: URL passwords and password=… pairs are masked in message and details', () => {
    const stderr = wrapped(
      'Caused by: java.sql.SQLException: No suitable driver found for jdbc:postgresql://app:s3cr3t-pw@db:5432/orders?user=app&password=s3cr3t-pw\n' +
        '\tat java.sql/java.sql.DriverManager.getConnection(DriverManager.java:708)\n' +
        '\tat com.example.Ingest$.connect(Ingest.scala:12) with url=postgres://loader:hunter22@db/x token=abc123\n',
    );
    const f = failureFromStderr(stderr)!;
    expect(f.message).toBe(
      'java.sql.SQLException: No suitable driver found for jdbc:postgresql://app:***@db:5432/orders?user=app&password=***',
    );
    expect(JSON.stringify(f)).not.toMatch(/s3cr3t|hunter22|abc123/);
    expect(f.details).toContain('postgres://loader:***@db/x token=***');
  });

  it('keeps messages under 2000 characters and details under 4 KiB', () => {
    const frames = Array.from({ length: 400 }, (_, i) => `\tat com.example.Deep.level${i}(Deep.scala:${i})`).join('\n');
    const f = failureFromStderr(`Exception in thread "main" java.lang.IllegalStateException: ${'x'.repeat(5000)}\n${frames}\n`)!;
    expect(f.message.length).toBe(2000);
    expect(f.message.endsWith('…')).toBe(true);
    expect(Buffer.byteLength(f.details!, 'utf8')).toBeLessThanOrEqual(4096);
    expect(f.details).toMatch(/\t… \d+ more lines$/);
  });
});

describe('scrubLogSecrets', () => {
  it.each([
    ['postgres://user:pw@db:5432/x', 'postgres://user:***@db:5432/x'],
    ['url=jdbc:postgresql://u:p@ss@db/x done', 'url=jdbc:postgresql://u:***@db/x done'],
    ['connect password=hunter2 user=app', 'connect password=*** user=app'],
    ['{"password":"hunter2","user":"app"}', '{"password":"***","user":"app"}'],
    ["spark.hadoop.fs.s3a.secret.key='AKIA/xyz'", "spark.hadoop.fs.s3a.secret.key='***'"],
    ['Authorization: Bearer eyJhbGciOi.abc', 'Authorization: Bearer ***'],
    ['apiKey: k-123; next', 'apiKey: ***; next'],
    ['FATAL: password authentication failed for user "app"', 'FATAL: password authentication failed for user "app"'],
    ['http://127.0.0.1:4040 and user@example.com', 'http://127.0.0.1:4040 and user@example.com'],
  ])('%j → %j', (text, scrubbed) => expect(scrubLogSecrets(text)).toBe(scrubbed));

  it('takes linear time on long lines', () => {
    const long = `${'a.b-c_d'.repeat(40_000)} ${'x='.repeat(40_000)} ${'s://'.repeat(20_000)}`;
    const t0 = Date.now();
    scrubLogSecrets(long);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('jobwireLines', () => {
  it('reads the lines of a run in order, after a log prefix too', () => {
    expect(jobwireLines(`${SUCCESS}26/12/01 10:00:12 ERROR Main: JOBWIRE {"type":"error","kind":"PERMANENT","message":"late"}\n`)).toEqual([
      { type: 'started', runId: RUN_ID, attempt: 1 },
      { type: 'read', rows: 1200, failed: 3 },
      { type: 'result', rowsRead: 1200, rowsWritten: 1197, rowsFailed: 3, alreadyLoaded: false },
      { type: 'error', kind: 'PERMANENT', message: 'late' },
    ]);
  });

  it('skips malformed lines and drops unknown fields', () => {
    const text = [
      'JOBWIRE {"type":"read","rows":10,"failed":0,"extra":"dropped"}',
      'JOBWIRE {"type":"read","rows":10}',
      'JOBWIRE {"type":"read","rows":-1,"failed":0}',
      'JOBWIRE {"type":"read","rows":1.5,"failed":0}',
      'JOBWIRE {"type":"started","runId":"r","attempt":0}',
      'JOBWIRE {"type":"error","kind":"FATAL","message":"x"}',
      'JOBWIRE {"type":"progress","stage":"load"}',
      'JOBWIRE {not json}',
      'JOBWIRE {"type":"result","rowsRead":1,"rowsWritten":1,"rowsFailed":0,"alreadyLoaded":true}',
      'JOBWIRE ',
      'jobwire {"type":"read","rows":1,"failed":0}',
    ].join('\n');
    expect(jobwireLines(text)).toEqual([
      { type: 'read', rows: 10, failed: 0 },
      { type: 'result', rowsRead: 1, rowsWritten: 1, rowsFailed: 0, alreadyLoaded: true },
    ]);
  });

  it("masks secrets in an error line's message", () => {
    expect(jobwireLines('JOBWIRE {"type":"error","kind":"TRANSIENT","message":"postgres://app:pw@db/x is down"}')).toEqual([
      { type: 'error', kind: 'TRANSIENT', message: 'postgres://app:***@db/x is down' },
    ]);
  });
});

describe('sparkUiUrl', () => {
  it("reads the UI address from Spark's bind line, the last one when the driver bound twice", () => {
    expect(sparkUiUrl(STARTUP)).toBe('http://127.0.0.1:4041');
    expect(sparkUiUrl(`${STARTUP}26/12/01 10:01:03 INFO SparkUI: Bound SparkUI to 127.0.0.1, and started at http://10.0.0.5:4042/\n`)).toBe(
      'http://10.0.0.5:4042',
    );
    expect(sparkUiUrl(BAD_MAIN_CLASS)).toBeNull();
  });

  it("reads Spark 4.2's own words for it (seen on the test cluster): the Jetty line", () => {
    const spark42 = [
      '26/12/02 05:42:32 INFO JettyUtils: Start Jetty 127.0.0.1:4040 for SparkUI',
      "26/12/02 05:42:32 INFO Utils: Successfully started service 'SparkUI' on port 4040.",
    ].join('\n');
    expect(sparkUiUrl(spark42)).toBe('http://127.0.0.1:4040');
    expect(sparkUiUrl('26/12/02 05:42:32 INFO JettyUtils: Start Jetty 0.0.0.0:4041 for SparkUI\n')).toBe('http://127.0.0.1:4041');
  });
});

describe('driverLogLines', () => {
  it('parses levels, times (UTC) and messages without their prefix; JOBWIRE lines are INFO', () => {
    const { lines } = driverLogLines(SUCCESS);
    expect(lines[0]).toEqual({
      level: 'INFO',
      message: "Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties",
      timestamp: null,
    });
    expect(lines[3]).toEqual({
      level: 'INFO',
      message: 'SparkContext: Running Spark version 4.2.0',
      timestamp: '2026-12-01T10:00:02.000Z',
    });
    expect(lines[9]).toMatchObject({ level: 'WARN', message: expect.stringMatching(/^Utils: Your hostname/) });
    expect(lines[10]).toEqual({ level: 'INFO', message: `JOBWIRE {"type":"started","runId":"${RUN_ID}","attempt":1}`, timestamp: null });
    expect(lines).toHaveLength(SUCCESS.trimEnd().split('\n').length);
  });

  it.each([
    ['2026-12-01T11:00:01.250+01:00 WARN Client: slow', { level: 'WARN', message: 'Client: slow', timestamp: '2026-12-01T10:00:01.250Z' }],
    ['2026-12-01 10:00:01,5 ERROR [main] Client: down', { level: 'ERROR', message: 'Client: down', timestamp: '2026-12-01T10:00:01.500Z' }],
    ['26/12/01 10:00:01.042 TRACE Netty: frame', { level: 'DEBUG', message: 'Netty: frame', timestamp: '2026-12-01T10:00:01.042Z' }],
    ['26/12/01 10:00:01 FATAL Main: gone', { level: 'ERROR', message: 'Main: gone', timestamp: '2026-12-01T10:00:01.000Z' }],
    ['26/12/01 10:00:01 DEBUG Main: detail', { level: 'DEBUG', message: 'Main: detail', timestamp: '2026-12-01T10:00:01.000Z' }],
    [
      '26/13/01 10:00:01 INFO Main: no such month',
      { level: 'INFO', message: '26/13/01 10:00:01 INFO Main: no such month', timestamp: null },
    ],
    [
      '26/12/01 10:00:01 ERROR Main: JOBWIRE {"type":"read","rows":1,"failed":0}',
      { level: 'INFO', message: 'Main: JOBWIRE {"type":"read","rows":1,"failed":0}', timestamp: '2026-12-01T10:00:01.000Z' },
    ],
    [
      '{"ts":"2026-12-01T10:00:01.661Z","level":"ERROR","msg":"Task failed","logger":"Executor","exception":{"class":"java.lang.RuntimeException","msg":"boom","stacktrace":"\\tat A.b(A.java:1)"}}',
      {
        level: 'ERROR',
        message: 'Executor: Task failed\njava.lang.RuntimeException: boom\n\tat A.b(A.java:1)',
        timestamp: '2026-12-01T10:00:01.661Z',
      },
    ],
    [
      'connecting to postgres://app:pw@db/x with password=pw',
      { level: 'INFO', message: 'connecting to postgres://app:***@db/x with password=***' },
    ],
  ])('reads %j', (line, expected) => {
    expect(driverLogLines(`${line}\n`).lines).toEqual([expect.objectContaining(expected)]);
  });

  it('attaches stack traces to the line they belong to', () => {
    const { lines } = driverLogLines(WRAPPED_BOOM);
    const i = lines.findIndex((l) => l.message.startsWith('Exception in thread'));
    expect(lines[i].level).toBe('ERROR');
    expect(lines[i].timestamp).toBeNull();
    expect(lines[i].message.split('\n')).toEqual(WRAPPED_BOOM.split('\n').slice(12, 22));
    expect(lines[i + 1]).toMatchObject({ level: 'INFO', message: 'ShutdownHookManager: Shutdown hook called' });

    const logged = driverLogLines(
      '26/12/01 10:00:02 ERROR SparkContext: Error initializing SparkContext.\njava.lang.IllegalArgumentException: bad\n\tat A.b(A.java:1)\n26/12/01 10:00:03 INFO SparkContext: stopped\n',
    ).lines;
    expect(logged).toEqual([
      {
        level: 'ERROR',
        message: 'SparkContext: Error initializing SparkContext.\njava.lang.IllegalArgumentException: bad\n\tat A.b(A.java:1)',
        timestamp: '2026-12-01T10:00:02.000Z',
      },
      { level: 'INFO', message: 'SparkContext: stopped', timestamp: '2026-12-01T10:00:03.000Z' },
    ]);
  });

  it('leaves a partial last line for the next chunk, counting consumed bytes in UTF-8', () => {
    const text =
      '26/12/01 10:00:01 INFO Ingest: café ✓ 10 rows\n26/12/01 10:00:02 INFO Ingest: naïve ✓ 20 rows\n26/12/01 10:00:03 INFO Ing';
    const first = driverLogLines(text);
    expect(first.lines.map((l) => l.message)).toEqual(['Ingest: café ✓ 10 rows', 'Ingest: naïve ✓ 20 rows']);
    // é and ï are 2 bytes, ✓ is 3: 46 + 47 characters are 49 + 50 bytes.
    expect(first.consumedBytes).toBe(99);
    const bytes = Buffer.from(`${text}est: done\n`, 'utf8');
    const rest = driverLogLines(bytes.subarray(first.consumedBytes).toString('utf8'));
    expect(rest).toEqual({ lines: [{ level: 'INFO', message: 'Ingest: done', timestamp: '2026-12-01T10:00:03.000Z' }], consumedBytes: 36 });
  });

  it('returns nothing until a line is complete, and skips blank lines (CRLF too)', () => {
    expect(driverLogLines('26/12/01 10:00:01 INFO half a li')).toEqual({ lines: [], consumedBytes: 0 });
    expect(driverLogLines('one\r\n\r\n  \ntwo\r\n')).toEqual({
      lines: [
        { level: 'INFO', message: 'one', timestamp: null },
        { level: 'INFO', message: 'two', timestamp: null },
      ],
      consumedBytes: 15,
    });
  });
});

describe('workerLogPage', () => {
  it("splits the worker's /log/ page into its byte range and text", () => {
    expect(workerLogPage('==== Bytes 0-120 of 4096 of /opt/spark/work/driver-20261201100000-0000/stderr ====\nhello\n')).toEqual({
      from: 0,
      to: 120,
      total: 4096,
      text: 'hello\n',
    });
    expect(workerLogPage('<html>not a log page</html>')).toBeNull();
  });
});
