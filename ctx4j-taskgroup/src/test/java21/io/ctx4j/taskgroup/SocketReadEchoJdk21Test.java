package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * JDK 21+: a task blocked in a plain {@link Socket} read on the group's default threads (virtual
 * threads) when the group's context ends is interrupted, and the JDK closes the socket: the read
 * throws a {@link SocketException} with the thread's interrupt status set. That echoes the
 * cancellation as an InterruptedException does. On the old code the group took it for a failure
 * of its own: reported instead of the context's error after a parent cancel, suppressed on the
 * TaskGroupException after a sibling's failure.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SocketReadEchoJdk21Test {

  @Test
  void aTaskBlockedInASocketReadOnAVirtualThreadEchoesTheCancellation() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    IllegalArgumentException failure = new IllegalArgumentException("bad input");
    for (boolean parentCancels : new boolean[] {true, false}) {
      String what = parentCancels ? "parent cancelled: " : "a sibling failed: ";
      CountDownLatch connected = new CountDownLatch(1);
      AtomicBoolean virtual = new AtomicBoolean();
      AtomicBoolean interruptSet = new AtomicBoolean();
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
          CancelableContext parent = Context.withCancel(Context.background());
          TaskGroup g = TaskGroup.open(parent)) {
        g.go(
            ctx -> {
              virtual.set(Thread.currentThread().isVirtual());
              try (Socket s = new Socket(server.getInetAddress(), server.getLocalPort())) {
                connected.countDown();
                return s.getInputStream().read(); // the peer never writes
              } catch (Throwable t) {
                interruptSet.set(Thread.currentThread().isInterrupted());
                thrown.set(t);
                throw t;
              }
            });
        try (Socket peer = server.accept()) {
          assertTrue(connected.await(10, TimeUnit.SECONDS));
          Throwable cancel = parentCancels ? why : null;
          TaskGroupException e = TaskGroupBehaviourTest.endAndAwait(g, parent, cancel, failure);
          assertTrue(virtual.get(), "the default threads on JDK 21+ are virtual");
          assertInstanceOf(SocketException.class, thrown.get(), what + "what the read threw");
          assertEquals(true, interruptSet.get(), what + "the interrupt status as the read threw");
          TaskGroupBehaviourTest.assertReported(e, cancel, failure, what);
        }
      }
    }
  }
}
