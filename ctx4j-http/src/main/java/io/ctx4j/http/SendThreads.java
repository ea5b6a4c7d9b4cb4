package io.ctx4j.http;

import java.util.concurrent.Executor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The threads on which {@link ContextHttp#send} runs the JDK client's blocking {@code send}, one
 * per request in flight. This is the JDK 17 to 20 version: platform threads, pooled; the JDK 21+
 * version starts a virtual thread per request instead, so that a caller on a virtual thread does
 * not pay for a platform thread.
 */
final class SendThreads {
  private SendThreads() {}

  private static final long KEEP_ALIVE_SECONDS = 5;
  private static final AtomicLong THREADS = new AtomicLong();

  /**
   * As many threads as there are requests in flight (a bounded pool would make a call wait for
   * another's exchange, which is what these threads are for not to do), reused, since starting a
   * thread per request cost 0.55 to 0.9 ms on a loaded 2-core machine, and retired after {@link
   * #KEEP_ALIVE_SECONDS} idle, as ctx4j's callback threads are. Daemons, without the inheritable
   * thread-locals of the caller that happened to start them, and with ctx4j's class loader as
   * context loader rather than that caller's.
   */
  static final Executor SENDERS =
      new ThreadPoolExecutor(
          0,
          Integer.MAX_VALUE,
          KEEP_ALIVE_SECONDS,
          TimeUnit.SECONDS,
          new SynchronousQueue<>(),
          task -> {
            Thread t =
                new Thread(null, task, "ctx4j-http-send-" + THREADS.incrementAndGet(), 0, false);
            t.setDaemon(true); // a request that never ends must not keep the JVM alive
            t.setContextClassLoader(ContextHttp.class.getClassLoader());
            return t;
          });
}
