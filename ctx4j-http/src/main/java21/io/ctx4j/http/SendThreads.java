package io.ctx4j.http;

import java.util.concurrent.Executor;

/**
 * The threads on which {@link ContextHttp#send} runs the JDK client's blocking {@code send}, one
 * per request in flight. This is the JDK 21+ version: a new virtual thread per request, which
 * costs about what the caller's own wait does, where the JDK 17 version keeps a pool of platform
 * threads; a server that makes its calls on virtual threads would otherwise hold a platform thread
 * per call in flight. Virtual threads run on their own scheduler, not on the common {@code
 * ForkJoinPool} whose workers the caller's other tasks may all hold. Without the inheritable
 * thread-locals of the caller, and with ctx4j's class loader as context loader.
 */
final class SendThreads {
  private SendThreads() {}

  private static final Thread.Builder BUILDER =
      Thread.ofVirtual().name("ctx4j-http-send-", 1).inheritInheritableThreadLocals(false);

  static final Executor SENDERS =
      task -> {
        Thread t = BUILDER.unstarted(task);
        t.setContextClassLoader(ContextHttp.class.getClassLoader());
        t.start();
      };
}
