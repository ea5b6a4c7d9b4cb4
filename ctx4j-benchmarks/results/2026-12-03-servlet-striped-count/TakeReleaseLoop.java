import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.servlet.internal.SharedDeadlines;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CyclicBarrier;

/**
 * Ad hoc: threads each take a shared deadline (30 s, as FilterLoad's header), derive the request's
 * context, end it and give the deadline back, in a loop; ns per operation per thread, per rep.
 */
public class TakeReleaseLoop {
  static volatile Object sink;

  public static void main(String[] args) throws Exception {
    int threads = Integer.parseInt(args[0]);
    long ops = Long.parseLong(args[1]);
    int reps = Integer.parseInt(args[2]);
    SharedDeadlines shared = new SharedDeadlines(Context.withCancel(Context.background()));
    Throwable cause = new IllegalStateException("deadline");
    Duration timeout = Duration.ofSeconds(30);
    double[] ns = new double[reps];
    for (int r = 0; r < reps; r++) {
      CyclicBarrier start = new CyclicBarrier(threads);
      long[] took = new long[threads];
      Thread[] ts = new Thread[threads];
      for (int t = 0; t < threads; t++) {
        int id = t;
        ts[t] = new Thread(() -> {
          try { start.await(); } catch (Exception e) { throw new RuntimeException(e); }
          long t0 = System.nanoTime();
          for (long i = 0; i < ops; i++) {
            SharedDeadlines.Entry e = shared.take(timeout, cause, 0);
            CancelableContext c = Context.withCancel(e.context());
            c.cancel();
            e.release();
          }
          took[id] = System.nanoTime() - t0;
        });
        ts[t].start();
      }
      for (Thread t : ts) t.join();
      ns[r] = Arrays.stream(took).average().getAsDouble() / ops;
    }
    double[] sorted = ns.clone();
    Arrays.sort(sorted);
    System.out.printf("threads=%d ns/op per rep %s median %.1f%n", threads,
        Arrays.toString(Arrays.stream(ns).map(x -> Math.round(x * 10) / 10.0).toArray()), sorted[reps / 2]);
  }
}
