package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tasks that throw hostile Throwables, after the group's context has ended (the echo rule walks
 * their causes then) and before, from a review of the echo rule. The group must not hang, must not
 * lose the failure, must not overflow the stack, and await() must report as its Javadoc says.
 */
@Timeout(120)
class TaskGroupHostileThrowableTest {

  /** A failure whose getCause() throws (a lazily resolved cause, a proxy, a broken library). */
  static final class CauseThrows extends RuntimeException {
    CauseThrows(String m) {
      super(m);
    }

    @Override
    public synchronized Throwable getCause() {
      throw new IllegalStateException("getCause() refused");
    }
  }

  /** A JDK wrapper whose getCause() returns itself. */
  static final class OwnCause extends CompletionException {
    OwnCause(String m) {
      super(m);
    }

    @Override
    public synchronized Throwable getCause() {
      return this;
    }
  }

  /** A JDK wrapper (looked through by the echo rule) whose getCause() throws. */
  static final class WrapperCauseThrows extends CompletionException {
    WrapperCauseThrows(String m) {
      super(m, null);
    }

    @Override
    public synchronized Throwable getCause() {
      throw new IllegalStateException("getCause() refused");
    }
  }

  /** A failure whose getMessage() throws (so does its toString()). */
  static final class MessageThrows extends RuntimeException {
    MessageThrows() {
      super("hostile");
    }

    @Override
    public String getMessage() {
      throw new IllegalStateException("getMessage() refused");
    }
  }

  /** No suppression, no stack trace: the 4-argument constructor. */
  static final class NoSuppression extends RuntimeException {
    NoSuppression(String m, Throwable cause) {
      super(m, cause, false, false);
    }
  }

  static final class NoSuppressionError extends Error {
    NoSuppressionError(String m) {
      super(m, null, false, false);
    }
  }

  /**
   * Runs a group whose task "hostile" throws {@code failure} after the group's context has ended
   * ({@code ending}: the parent cancelled, or a sibling's failure), or while it is live
   * ("nothing"); returns what went wrong, empty if nothing did.
   */
  private static List<String> runRow(String what, Supplier<Throwable> make, String ending)
      throws Exception {
    List<String> wrong = new ArrayList<>();
    IllegalArgumentException bad = new IllegalArgumentException("sibling's bad input");
    Throwable failure = make.get();
    CountDownLatch started = new CountDownLatch(1);
    try (CancelableContext parent = Context.withCancelCause(Context.background());
        TaskGroup g = TaskGroup.open(parent)) {
      CompletableFuture<Object> hostile =
          g.go(
              c -> {
                started.countDown();
                if (!ending.equals("nothing")) {
                  try {
                    c.await(); // until the group's end (or its interrupt)
                  } catch (InterruptedException e) {
                    // the group's interrupt: the context is done
                  }
                }
                if (failure instanceof Error) {
                  throw (Error) failure;
                }
                throw (Exception) failure;
              });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      if (ending.equals("parent.cancel")) {
        parent.cancel(new IllegalStateException("shutting down"));
      } else if (ending.equals("a sibling's failure")) {
        g.go(
            c -> {
              throw bad;
            });
      }
      Throwable reported = null;
      try {
        g.await();
      } catch (Throwable t) {
        reported = t;
      }
      String row = what + " / " + ending;
      try {
        hostile.handle((v, t) -> t).get(10, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        wrong.add(row + ": the task's future never completed (10 s after await() returned)");
      }
      boolean kept = g.failures().stream().anyMatch(t -> t == failure);
      if (!kept) {
        wrong.add(row + ": the failure is not among failures() " + str(g.failures()));
      }
      if (reported == null) {
        wrong.add(row + ": await() returned normally");
      } else if (ending.equals("nothing") || ending.equals("parent.cancel")) {
        // the hostile task's failure is the first (the parent's end is no task failure)
        Throwable first = reported instanceof TaskGroupException ? reported.getCause() : reported;
        if (first != failure && !(failure instanceof Error && reported == failure)) {
          wrong.add(row + ": await() threw " + str(reported) + " (first failure " + str(first) + ")");
        }
      } else if (!(failure instanceof Error) && reported.getCause() != bad) {
        wrong.add(row + ": await() threw " + str(reported));
      }
    }
    return wrong;
  }

  /** toString(), or the class names when a hostile toString() throws. */
  private static String str(Object o) {
    try {
      return String.valueOf(o);
    } catch (RuntimeException e) {
      if (o instanceof List) {
        List<String> names = new ArrayList<>();
        for (Object x : (List<?>) o) {
          names.add(x.getClass().getName());
        }
        return names.toString();
      }
      return o.getClass().getName() + "(toString() threw " + e + ")";
    }
  }

  private static void assertRows(String what, Supplier<Throwable> make) throws Exception {
    List<String> wrong = new ArrayList<>();
    for (String ending : new String[] {"nothing", "parent.cancel", "a sibling's failure"}) {
      wrong.addAll(runRow(what, make, ending));
    }
    assertEquals(List.of(), wrong, what);
  }

  @Test
  void aFailureWhoseGetCauseThrows() throws Exception {
    assertRows("getCause() throws", () -> new CauseThrows("hostile"));
  }

  @Test
  void aFailureWhoseGetMessageThrows() throws Exception {
    assertRows("getMessage() throws", MessageThrows::new);
  }

  @Test
  void aJdkWrapperWhoseGetCauseThrows() throws Exception {
    assertRows("CompletionException whose getCause() throws", () -> new WrapperCauseThrows("hostile"));
  }

  /** A JDK wrapper whose getCause() makes a new wrapper on every call: a chain with no end. */
  static final class EndlessCause extends CompletionException {
    EndlessCause() {
      super("endless");
    }

    @Override
    public synchronized Throwable getCause() {
      return new EndlessCause();
    }
  }

  @Test
  void aJdkWrapperWhoseCausesNeverEnd() throws Exception {
    assertRows("CompletionException with causes that never end", EndlessCause::new);
  }

  @Test
  void aFailureWhoseGetCauseIsItself() throws Exception {
    assertRows("CompletionException whose getCause() returns this", () -> new OwnCause("hostile"));
  }

  @Test
  void aCauseCycleThroughJdkWrappers() throws Exception {
    assertRows(
        "a -> b -> a (CompletionException, ExecutionException, initCause)",
        () -> {
          CompletionException a = new CompletionException("a") {};
          ExecutionException b = new ExecutionException("b") {};
          a.initCause(b);
          b.initCause(a);
          return a;
        });
  }

  @Test
  void aCauseCycleOfPlainExceptions() throws Exception {
    assertRows(
        "a -> b -> a (RuntimeException, initCause)",
        () -> {
          RuntimeException a = new RuntimeException("a");
          RuntimeException b = new RuntimeException("b");
          a.initCause(b);
          b.initCause(a);
          return a;
        });
  }

  @Test
  void aFailureWithSuppressionDisabled() throws Exception {
    assertRows(
        "suppression disabled, cause an InterruptedException",
        () -> new NoSuppression("hostile", new InterruptedException("not ours")));
  }

  @Test
  void anErrorWithSuppressionDisabled() throws Exception {
    assertRows("an Error, suppression disabled", () -> new NoSuppressionError("hostile"));
  }

  @Test
  void aFailureWithAHugeSuppressedList() throws Exception {
    assertRows(
        "200,000 suppressed",
        () -> {
          RuntimeException e = new RuntimeException("hostile");
          for (int i = 0; i < 200_000; i++) {
            e.addSuppressed(new RuntimeException("s" + i, null, false, false) {});
          }
          return e;
        });
  }

  /**
   * An echo (the interrupt's, through a JDK wrapper) carrying 200,000 suppressed exceptions, an
   * Error last among them: the Error must be kept; bounded time.
   */
  @Test
  void anEchoWithAHugeSuppressedListAndAnErrorLast() throws Exception {
    NoSuppressionError hidden = new NoSuppressionError("close() failed");
    CountDownLatch started = new CountDownLatch(1);
    try (CancelableContext parent = Context.withCancelCause(Context.background());
        TaskGroup g = TaskGroup.open(parent)) {
      g.go(
          c -> {
            started.countDown();
            try {
              c.await();
            } catch (InterruptedException e) {
              // the group's interrupt
            }
            CompletionException echo = new CompletionException(new InterruptedException());
            for (int i = 0; i < 200_000; i++) {
              echo.addSuppressed(new RuntimeException("s" + i, null, false, false) {});
            }
            echo.addSuppressed(hidden);
            throw echo;
          });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      parent.cancel(new IllegalStateException("shutting down"));
      Error e = assertThrows(Error.class, g::await);
      assertSame(hidden, e);
    }
  }

  /**
   * A sibling waits for the hostile task's future (join(), not interruptible), the parent is
   * cancelled: the group must still drain, so await() returns (or throws) within bounds.
   */
  @Test
  void aSiblingJoiningTheTaskDoesNotHangTheGroup() throws Exception {
    CancelableContext parent = Context.withCancelCause(Context.background());
    TaskGroup g = TaskGroup.open(parent);
    CountDownLatch started = new CountDownLatch(2);
    CompletableFuture<Object> hostile =
        g.go(
            c -> {
              started.countDown();
              try {
                c.await();
              } catch (InterruptedException e) {
                // the group's interrupt
              }
              throw new WrapperCauseThrows("hostile");
            });
    g.go(
        c -> {
          started.countDown();
          return hostile.join();
        });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    parent.cancel(new IllegalStateException("shutting down"));
    CompletableFuture<Throwable> awaited = new CompletableFuture<>();
    Thread waiter =
        new Thread(
            () -> {
              try {
                g.await();
                awaited.complete(null);
              } catch (Throwable t) {
                awaited.complete(t);
              }
            },
            "review-await");
    waiter.setDaemon(true);
    waiter.start();
    try {
      awaited.get(20, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      org.junit.jupiter.api.Assertions.fail(
          "await() still waiting 20 s after the parent's cancel: a sibling joins the future of a"
              + " task whose failure the echo rule could not classify, and that future never completes");
    }
  }
}
