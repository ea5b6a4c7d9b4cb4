package io.ctx4j.testing;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The shared input of the HTTP client integrations' "cancel anywhere" tests: seeded random request
 * shapes (response size, a late head, a body that streams, an upload, and when the request's
 * context is cancelled, if at all), the bytes a test server answers each with, and the canceller
 * threads that cancel the contexts.
 *
 * <p>Thread safety: the static methods are; a {@link Shape} is immutable.
 */
public final class CancelAnywhere {
  private CancelAnywhere() {}

  /** The name of every canceller thread (see {@link #cancellers()}). */
  public static final String CANCELLER = "cancel-anywhere-canceller";

  /** The run's seed: {@code -Dctx4j.fuzz.seed=N} replays one, else a fresh one. */
  public static final long SEED = Long.getLong("ctx4j.fuzz.seed", System.nanoTime());

  /**
   * Returns the body a test server sends for request {@code k}: {@code n} bytes that name the
   * request.
   *
   * @param k the request's number
   * @param n the body's size
   * @return a new array
   */
  public static byte[] body(int k, int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ((k * 31 + i) % 251);
    }
    return b;
  }

  /**
   * Answers a request of a {@link Shape}'s {@link Shape#path()} on a JDK {@code HttpServer}: reads
   * the request body, waits {@code late} µs before the head, then sends the {@code n} bytes of
   * {@link #body} in four writes {@code gap} µs apart, with a fixed length, or chunked for an odd
   * {@code k} if {@code chunkOddOnes} (a body whose end the client learns only from its last
   * chunk). A client that goes away (a cancelled call's) ends the answer quietly.
   *
   * @param ex the exchange
   * @param chunkOddOnes whether the bodies of odd requests go chunked
   * @throws IOException if the head cannot be sent
   */
  public static void answer(HttpExchange ex, boolean chunkOddOnes) throws IOException {
    long[] p = Shape.parse(ex.getRequestURI().getPath());
    int k = (int) p[0];
    int n = (int) p[1];
    long late = p[2];
    long gap = p[3];
    try (InputStream in = ex.getRequestBody()) {
      in.readAllBytes();
      LockSupport.parkNanos(late * 1000); // the input: a late head
      byte[] b = body(k, n);
      ex.sendResponseHeaders(200, n == 0 ? -1 : chunkOddOnes && k % 2 == 1 ? 0 : n);
      try (OutputStream out = ex.getResponseBody()) {
        int step = Math.max(1, (n + 3) / 4);
        for (int off = 0; off < n; off += step) {
          out.write(b, off, Math.min(step, n - off));
          out.flush();
          LockSupport.parkNanos(gap * 1000); // the input: a body that streams
        }
      }
    } catch (IOException clientLeft) {
      // a cancelled call's client closed the connection: expected here
    } finally {
      ex.close();
    }
  }

  /**
   * Returns a scheduler of two threads named {@link #CANCELLER}, for the cancels of the contexts.
   *
   * @return a new scheduler; the caller shuts it down
   */
  public static ScheduledExecutorService cancellers() {
    return Executors.newScheduledThreadPool(2, r -> new Thread(r, CANCELLER));
  }

  /**
   * Holds the calling thread up 0 to 500 µs if it is a canceller: called from a test socket's
   * close, it stands for a canceller descheduled inside the client's cancel, which a loaded machine
   * does at random.
   *
   * @return whether it held the thread up
   */
  public static boolean holdUpACanceller() {
    if (!Thread.currentThread().getName().equals(CANCELLER)) {
      return false;
    }
    LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(500_000));
    return true;
  }

  /**
   * Returns the context for a request of {@code shape}: {@code parent} itself if its context never
   * ends, else a child of it, cancelled now or at its moment by {@code cancellers} (the scheduled
   * cancel is added to {@code pending}).
   *
   * @param shape the request's shape
   * @param parent the long-lived context
   * @param cancellers the scheduler of the cancels
   * @param pending the scheduled cancels, to await with {@link #awaitAll}
   * @return the request's context
   */
  public static Context contextFor(
      Shape shape,
      Context parent,
      ScheduledExecutorService cancellers,
      List<ScheduledFuture<?>> pending) {
    if (shape.cancelNanos < 0) {
      return parent;
    }
    CancelableContext child = Context.withCancel(parent);
    if (shape.cancelNanos == 0) {
      child.cancel();
    } else {
      pending.add(
          cancellers.schedule((Runnable) child::cancel, shape.cancelNanos, TimeUnit.NANOSECONDS));
    }
    return child;
  }

  /**
   * Waits for every scheduled cancel to have run, up to 20 s each.
   *
   * @param pending the scheduled cancels
   * @throws Exception if one failed or did not run in time
   */
  public static void awaitAll(List<ScheduledFuture<?>> pending)
      throws InterruptedException, ExecutionException, TimeoutException {
    for (ScheduledFuture<?> f : pending) {
      f.get(20, TimeUnit.SECONDS);
    }
  }

  /**
   * Checks what every outcome must satisfy, whatever the client: the calling thread is not left
   * interrupted; a call that returned has its own body (tallied as {@code ok}, or {@code ok though
   * cancelled}); a call that failed had its context ended. What is wrong goes to {@code failures}.
   *
   * @param s the call's shape
   * @param ctx the call's context
   * @param got the body the call returned, or null
   * @param failure what the call threw, or null
   * @param failures where to note what is wrong
   * @param tally the outcomes so far
   * @return true if the call failed after its context ended: which error the client promises then
   *     is the caller's to check
   */
  public static boolean failedAfterItsEnd(
      Shape s,
      Context ctx,
      byte[] got,
      Throwable failure,
      Collection<String> failures,
      Map<String, Integer> tally) {
    if (Thread.interrupted()) {
      failures.add(s + ": the calling thread was left interrupted");
    }
    if (failure == null) {
      if (!Arrays.equals(got, body(s.k, s.n))) {
        failures.add(s + ": wrong body, " + (got == null ? "none" : got.length + " bytes"));
      }
      tally.merge(s.cancelNanos < 0 ? "ok" : "ok though cancelled", 1, Integer::sum);
      return false;
    }
    if (ctx.err() == null) {
      failures.add(describe(s + ": failed though its context never ended", failure));
      return false;
    }
    return true;
  }

  /**
   * Returns a failure's line for a report: {@code what}, then {@code e}'s stack trace if any.
   *
   * @param what what happened to which request
   * @param e the failure, or null
   * @return the line
   */
  public static String describe(String what, Throwable e) {
    if (e == null) {
      return what;
    }
    StringWriter w = new StringWriter();
    e.printStackTrace(new PrintWriter(w));
    return what + ": " + w;
  }

  /**
   * Returns a run's one-line report: requests, outcomes, connections, held-up closes, seed.
   *
   * @param path the way the requests were made
   * @param requests how many
   * @param outcomes how many ended each way
   * @param connections the connections the client made
   * @param heldCloses the socket closes a canceller made, held up
   * @return the line
   */
  public static String report(
      String path, int requests, Map<String, Integer> outcomes, int connections, int heldCloses) {
    return path + ": " + requests + " requests, " + outcomes + ", " + connections
        + " connections made, " + heldCloses + " socket closes by a cancel held up, seed " + SEED;
  }

  /**
   * Returns what to fail a run with, or null if no request failed: how many, the report, how to
   * replay the run, and the first five failures.
   *
   * @param report the run's report
   * @param failures the failures, one line each
   * @return the message, or null
   */
  public static String failed(String report, Collection<String> failures) {
    List<String> seen = new ArrayList<>(failures);
    if (seen.isEmpty()) {
      return null;
    }
    return seen.size() + " failures, " + report + " (replay: -Dctx4j.fuzz.seed=" + SEED + ")\n"
        + String.join("\n", seen.subList(0, Math.min(5, seen.size())));
  }

  /** One request's shape, drawn from a seeded random. */
  public static final class Shape {
    /** The request's number, which its body names. */
    public final int k;
    /** The response body's size: 0, up to 100 B, 1 to 11 KB, or 64 KiB. */
    public final int n;
    /** How late the server sends the head, in µs. */
    public final long late;
    /** The server's pause after each of its four body writes, in µs. */
    public final long gap;
    /** The size of the request body to upload, or -1 for none (a GET). */
    public final int upload;
    /** -1: the context never ends; 0: cancelled before the request; else the cancel's delay in ns. */
    public final long cancelNanos;

    /**
     * Draws request {@code k}'s shape from {@code r}.
     *
     * @param k the request's number
     * @param r the seeded random
     */
    public Shape(int k, Random r) {
      this.k = k;
      int size = r.nextInt(4);
      n = size == 0 ? 0 : size == 1 ? 1 + r.nextInt(100) : size == 2 ? 1_000 + r.nextInt(10_000) : 64 * 1024;
      late = r.nextInt(3) == 0 ? r.nextInt(3_000) : 0;
      gap = r.nextInt(3) == 0 ? r.nextInt(1_000) : 0;
      upload = r.nextInt(4) == 0 ? r.nextInt(256 * 1024) : -1;
      int c = r.nextInt(10);
      // Half of the requests are cancelled, a tenth of those before the request; the rest spread
      // log-uniformly from 1 µs to about 16 ms after the request starts (through and past it).
      cancelNanos = c < 5 ? -1 : c == 5 ? 0 : (long) Math.pow(2, 10 + r.nextDouble() * 14);
    }

    /**
     * Returns the request's path, which tells the test server what to answer: {@code
     * /k/n/late/gap}.
     *
     * @return the path
     */
    public String path() {
      return "/" + k + "/" + n + "/" + late + "/" + gap;
    }

    /**
     * Parses a {@link #path()}: k, n, late and gap.
     *
     * @param path the request's path
     * @return the four numbers
     */
    public static long[] parse(String path) {
      String[] p = path.split("/");
      return new long[] {
        Long.parseLong(p[1]), Long.parseLong(p[2]), Long.parseLong(p[3]), Long.parseLong(p[4])
      };
    }

    @Override
    public String toString() {
      return "request " + k + " (body " + n + " B, head " + late + " µs late, gaps " + gap
          + " µs, upload " + upload + " B, "
          + (cancelNanos < 0 ? "never cancelled" : "cancelled at " + cancelNanos + " ns") + ")";
    }
  }
}
