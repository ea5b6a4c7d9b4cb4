package io.ctx4j.blackbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * Shared helpers of the core tests, black-box and white-box: time sources, custom contexts, failure
 * capture. Public API of ctx4j only.
 */
public final class Fixtures {
  private Fixtures() {}

  /**
   * How long a test waits for something that should happen "soon". Generous on purpose: the CI
   * machine is small and shared, and a correct implementation finishes in microseconds.
   */
  public static final Duration BOUND = Duration.ofSeconds(10);

  /** Go's veryLongDuration: a timeout that never fires during a test. */
  public static final Duration FOREVER = Duration.ofHours(1000);

  public static final Instant EPOCH = Instant.parse("2030-01-01T00:00:00Z");

  public static ManualTimeSource manualTime() {
    return ManualTimeSource.startingAt(EPOCH);
  }

  public static void awaitDone(Context ctx) throws InterruptedException {
    assertTrue(ctx.await(BOUND), () -> ctx + " not done within " + BOUND);
  }

  /**
   * Go's {@code otherContext}: a type ctx4j does not know that forwards the four methods, so a child
   * of it goes through the custom-parent path.
   */
  public static class Wrapper implements Context {
    private final Context inner;

    public Wrapper(Context inner) {
      this.inner = inner;
    }

    @Override
    public ContextException err() {
      return inner.err();
    }

    @Override
    public Throwable cause() {
      return inner.cause();
    }

    @Override
    public Optional<Instant> deadline() {
      return inner.deadline();
    }

    @Override
    public <T> T value(Key<T> key) {
      return inner.value(key);
    }

    @Override
    public Registration onDone(Runnable callback) {
      return inner.onDone(callback);
    }

    @Override
    public String toString() {
      return "Wrapper";
    }
  }

  /**
   * Starts a thread that waits for {@code go} to open, then runs {@code action} (not if interrupted
   * while waiting); returns it for the test to join. The same as {@code
   * io.ctx4j.testing.LatchThreads}, which the core's tests cannot use: ctx4j-test-support depends on
   * the core.
   */
  public static Thread startAfter(CountDownLatch go, Runnable action) {
    Thread t =
        new Thread(
            () -> {
              try {
                go.await();
              } catch (InterruptedException e) {
                return; // a test that gave up on the race; nothing to run
              }
              action.run();
            });
    t.start();
    return t;
  }

  /**
   * A time source made of two functions, for tests that break one of its methods: {@code now} answers
   * {@link TimeSource#now()}, {@code schedule} answers {@link TimeSource#schedule}.
   */
  public static TimeSource timeSource(
      Supplier<Instant> now, BiFunction<Instant, Runnable, Registration> schedule) {
    return new TimeSource() {
      @Override
      public Instant now() {
        return now.get();
      }

      @Override
      public Registration schedule(Instant deadline, Runnable action) {
        return schedule.apply(deadline, action);
      }
    };
  }

  /**
   * A timeout child and an {@code afterFunc} of {@code parent} each hold one registration on it while
   * they live and give it back when cancelled or stopped (Go's XTestCancelRemoves and
   * TestCustomContextAfterFuncUnregister). Expects {@code registrations} to count 0 on entry.
   */
  public static void assertTimeoutAndAfterFuncGiveTheirRegistrationBack(
      Context parent, IntSupplier registrations) {
    CancelableContext timer = Context.withTimeout(parent, FOREVER);
    assertEquals(1, registrations.getAsInt());
    timer.cancel();
    assertEquals(0, registrations.getAsInt());

    Registration after = Context.afterFunc(parent, () -> {});
    assertEquals(1, registrations.getAsInt());
    assertTrue(after.stop());
    assertEquals(0, registrations.getAsInt());
  }

  /**
   * Throws {@code t}, even a checked exception, from code that does not declare it: what Kotlin,
   * Groovy or a sneaky-throw helper can do. Write {@code throw Fixtures.<RuntimeException>sneaky(t)}.
   */
  @SuppressWarnings("unchecked")
  public static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }

  /** How a {@link CustomContext} misbehaves, for the bad-input tests. */
  public enum Misbehaviour {
    NONE,
    ON_DONE_RETURNS_NULL,
    ON_DONE_THROWS,
    STOP_THROWS,
    CAUSE_THROWS,
    ERR_THROWS_ONCE_DONE,
    /** err() and cause() throw a checked exception they do not declare, once done. */
    ERR_AND_CAUSE_THROW_SNEAKILY_ONCE_DONE,
    /** err() (and so the default isDone()) throws an {@link AssertionError}, once done. */
    ERR_THROWS_ERROR_ONCE_DONE,
    /** cause() throws an {@link AssertionError}, once done; err() works. */
    CAUSE_THROWS_ERROR_ONCE_DONE,
    DEADLINE_RETURNS_NULL
  }

  /**
   * A user's own context, written the way an application might: a monitor, a list of callbacks, no
   * thread of its own. It counts live registrations so tests can see children detach.
   */
  public static final class CustomContext implements Context {
    private final Object lock = new Object();
    private final List<Entry> entries = new ArrayList<>();
    private final Map<Key<?>, Object> values = new HashMap<>();
    private final Instant deadline;
    private final Misbehaviour misbehaviour;
    private volatile ContextException err;
    private volatile Throwable cause;

    public CustomContext() {
      this(null, Misbehaviour.NONE);
    }

    public CustomContext(Instant deadline, Misbehaviour misbehaviour) {
      this.deadline = deadline;
      this.misbehaviour = misbehaviour;
    }

    public <T> CustomContext with(Key<T> key, T value) {
      values.put(key, value);
      return this;
    }

    /**
     * Finishes the context with {@code err}; returns false if it already was. Runs every callback
     * even if one throws, as {@link Context} asks of an implementation, then throws the first
     * failure, the others suppressed.
     */
    public boolean finish(ContextException err, Throwable cause) {
      List<Entry> toRun;
      synchronized (lock) {
        if (this.err != null) {
          return false;
        }
        // cause first: a reader that sees err must see the cause too
        this.cause = cause == null ? err : cause;
        this.err = err;
        toRun = new ArrayList<>(entries);
        entries.clear();
      }
      Throwable failed = null;
      for (Entry e : toRun) {
        try {
          e.callback.run();
        } catch (Throwable t) {
          if (failed == null) {
            failed = t;
          } else {
            failed.addSuppressed(t);
          }
        }
      }
      if (failed != null) {
        throw Fixtures.<RuntimeException>sneaky(failed);
      }
      return true;
    }

    public int callbackCount() {
      synchronized (lock) {
        return entries.size();
      }
    }

    @Override
    public ContextException err() {
      if (misbehaviour == Misbehaviour.ERR_THROWS_ONCE_DONE && err != null) {
        throw new IllegalStateException("err() is broken");
      }
      if (misbehaviour == Misbehaviour.ERR_AND_CAUSE_THROW_SNEAKILY_ONCE_DONE && err != null) {
        throw Fixtures.<RuntimeException>sneaky(new IOException("err() is broken"));
      }
      if (misbehaviour == Misbehaviour.ERR_THROWS_ERROR_ONCE_DONE && err != null) {
        throw new AssertionError("err() is broken");
      }
      return err;
    }

    @Override
    public Throwable cause() {
      if (misbehaviour == Misbehaviour.CAUSE_THROWS) {
        throw new IllegalStateException("cause() is broken");
      }
      if (misbehaviour == Misbehaviour.ERR_AND_CAUSE_THROW_SNEAKILY_ONCE_DONE && err != null) {
        throw Fixtures.<RuntimeException>sneaky(new IOException("cause() is broken"));
      }
      if (misbehaviour == Misbehaviour.CAUSE_THROWS_ERROR_ONCE_DONE && err != null) {
        throw new AssertionError("cause() is broken");
      }
      return err == null ? null : cause;
    }

    @Override
    public Optional<Instant> deadline() {
      return misbehaviour == Misbehaviour.DEADLINE_RETURNS_NULL ? null : Optional.ofNullable(deadline);
    }

    @Override
    public <T> T value(Key<T> key) {
      Objects.requireNonNull(key, "key");
      @SuppressWarnings("unchecked")
      T v = (T) values.get(key);
      return v;
    }

    @Override
    public Registration onDone(Runnable callback) {
      Objects.requireNonNull(callback, "callback");
      switch (misbehaviour) {
        case ON_DONE_RETURNS_NULL:
          return null;
        case ON_DONE_THROWS:
          throw new IllegalStateException("onDone is broken");
        default:
          break;
      }
      Entry e = new Entry(callback);
      synchronized (lock) {
        if (err == null) {
          entries.add(e);
          return e;
        }
      }
      callback.run();
      return () -> false;
    }

    @Override
    public String toString() {
      return "CustomContext";
    }

    private final class Entry implements Registration {
      final Runnable callback;

      Entry(Runnable callback) {
        this.callback = callback;
      }

      @Override
      public boolean stop() {
        boolean removed;
        synchronized (lock) {
          removed = entries.remove(this);
        }
        if (misbehaviour == Misbehaviour.STOP_THROWS) {
          throw new IllegalStateException("stop is broken");
        }
        return removed;
      }
    }
  }

  /**
   * Collects what reaches an uncaught-exception handler: the JVM-wide default one (for callbacks on
   * ctx4j's pool threads) or the current thread's (for callbacks on the cancelling thread). Closing
   * restores the previous handler.
   */
  public static final class Uncaught implements AutoCloseable {
    public final BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
    public final BlockingQueue<Thread> threads = new LinkedBlockingQueue<>();
    private final Thread.UncaughtExceptionHandler previous;
    private final Thread owner;

    private Uncaught(Thread owner) {
      this.owner = owner;
      Thread.UncaughtExceptionHandler h =
          (t, e) -> {
            threads.add(t);
            errors.add(e);
          };
      if (owner == null) {
        previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler(h);
      } else {
        previous = owner.getUncaughtExceptionHandler() == owner.getThreadGroup()
            ? null
            : owner.getUncaughtExceptionHandler();
        owner.setUncaughtExceptionHandler(h);
      }
    }

    public static Uncaught onDefaultHandler() {
      return new Uncaught(null);
    }

    public static Uncaught onCurrentThread() {
      return new Uncaught(Thread.currentThread());
    }

    public Throwable next() throws InterruptedException {
      Throwable t = errors.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS);
      assertTrue(t != null, "nothing reached the uncaught-exception handler");
      return t;
    }

    @Override
    public void close() {
      if (owner == null) {
        Thread.setDefaultUncaughtExceptionHandler(previous);
      } else {
        owner.setUncaughtExceptionHandler(previous);
      }
    }
  }
}
