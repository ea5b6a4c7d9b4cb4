package io.ctx4j.blackbox;

import static io.ctx4j.blackbox.Fixtures.EPOCH;
import static io.ctx4j.blackbox.Fixtures.FOREVER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.TimeSource;
import java.time.Duration;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

/** Contexts print their chain the way Go's {@code String()} does. */
class ToStringTest {
  private static final Key<String> KEY1 = Key.named("key1");
  private static final Key<Object> KEY2 = Key.named("key2");

  @Test
  void cancelLayers() {
    try (CancelableContext c = Context.withCancel(Context.background());
        CancelableContext t = Context.withCancelCause(Context.todo())) {
      assertEquals("context.Background.WithCancel", c.toString());
      assertEquals("context.TODO.WithCancel", t.toString());
    }
  }

  @Test
  void valueLayersPrintKeyAndPrintableValues() {
    Context c1 = Context.withValue(Context.background(), KEY1, "c1k1");
    assertEquals("context.Background.WithValue(key1, c1k1)", c1.toString());
    Context c2 = Context.withValue(c1, KEY2, 42);
    assertEquals("context.Background.WithValue(key1, c1k1).WithValue(key2, 42)", c2.toString());
    Context c3 = Context.withValue(c2, KEY1, null);
    assertTrue(c3.toString().endsWith(".WithValue(key2, 42).WithValue(key1, <nil>)"), c3::toString);
  }

  @Test
  void arbitraryValuesPrintOnlyTheirTypeSoLogsDoNotLeakRequestData() {
    Context c = Context.withValue(Context.background(), KEY2, new ArrayList<>(java.util.List.of("secret")));
    assertEquals("context.Background.WithValue(key2, java.util.ArrayList)", c.toString());
  }

  @Test
  void deadlineLayersPrintTheDeadlineAndTheTimeLeft() {
    ManualTimeSource time = Fixtures.manualTime();
    Context root = Context.withTimeSource(Context.background(), time);
    try (CancelableContext d = Context.withDeadline(root, EPOCH.plusSeconds(3));
        CancelableContext t = Context.withTimeout(root, Duration.ofMinutes(90))) {
      assertTrue(d.toString().startsWith("context.Background.WithTimeSource("), d::toString);
      assertTrue(d.toString().endsWith(".WithDeadline(2030-01-01T00:00:03Z [3s])"), d::toString);
      assertTrue(t.toString().endsWith(".WithDeadline(2030-01-01T01:30:00Z [1h30m0s])"), t::toString);
      time.advance(Duration.ofMillis(1500));
      assertTrue(d.toString().endsWith(" [1.5s])"), d::toString);
    }
  }

  @Test
  void timeoutsOnTheSystemClockPrintAsWithDeadlineToo() {
    try (CancelableContext t = Context.withTimeout(Context.background(), FOREVER);
        CancelableContext d = Context.withDeadline(Context.background(), java.time.Instant.now().plus(FOREVER))) {
      assertTrue(t.toString().startsWith("context.Background.WithDeadline("), t::toString);
      assertTrue(d.toString().startsWith("context.Background.WithDeadline("), d::toString);
    }
  }

  @Test
  void aDeadlineShortcutPrintsAsWithCancel() {
    try (CancelableContext parent = Context.withTimeout(Context.background(), Duration.ofHours(1));
        CancelableContext child = Context.withTimeout(parent, FOREVER)) {
      assertTrue(child.toString().endsWith("]).WithCancel"), child::toString);
    }
  }

  @Test
  void withoutCancelAndCustomParents() {
    assertEquals(
        "context.Background.WithoutCancel", Context.withoutCancel(Context.background()).toString());
    try (CancelableContext c = Context.withCancel(new Fixtures.CustomContext())) {
      assertEquals("CustomContext.WithCancel", c.toString());
    }
    assertEquals(
        "Wrapper.WithValue(key1, v)",
        Context.withValue(new Fixtures.Wrapper(Context.background()), KEY1, "v").toString());
  }

  @Test
  void aCustomParentWhoseToStringFailsPrintsAsItsClass() {
    Context broken =
        new Fixtures.Wrapper(Context.background()) {
          @Override
          public String toString() {
            throw new IllegalStateException("no name");
          }
        };
    try (CancelableContext c = Context.withCancel(broken)) {
      assertEquals(broken.getClass().getName() + ".WithCancel", c.toString());
    }
  }

  /** A deadline layer on a time source whose now() fails still prints, without the time left. */
  @Test
  void aDeadlineOnABrokenTimeSourceStillPrints() {
    ManualTimeSource time = Fixtures.manualTime();
    boolean[] broken = {false};
    TimeSource flaky =
        Fixtures.timeSource(
            () -> {
              if (broken[0]) {
                throw new IllegalStateException("clock is broken");
              }
              return time.now();
            },
            time::schedule);
    CancelableContext c = Context.withTimeout(Context.withTimeSource(Context.background(), flaky), FOREVER);
    broken[0] = true;
    String s = c.toString();
    assertTrue(s.contains(".WithDeadline(" + EPOCH.plus(FOREVER) + " ["), s);
  }

  /**
   * A time source whose toString() throws (or recurses) must not make the context's toString()
   * throw, as for a failing value, custom parent or clock: the layer prints the source's class.
   */
  @Test
  void aTimeSourceWhoseToStringFailsPrintsAsItsClass() {
    ManualTimeSource time = Fixtures.manualTime();
    for (RuntimeException failure :
        new RuntimeException[] {new IllegalStateException("no name"), null}) {
      TimeSource broken =
          new TimeSource() {
            @Override
            public java.time.Instant now() {
              return time.now();
            }

            @Override
            public io.ctx4j.Registration schedule(java.time.Instant deadline, Runnable action) {
              return time.schedule(deadline, action);
            }

            @Override
            public String toString() {
              if (failure != null) {
                throw failure;
              }
              return "clock " + this; // recurses until the stack overflows
            }
          };
      try (CancelableContext c =
          Context.withCancel(Context.withTimeSource(Context.background(), broken))) {
        assertEquals(
            "context.Background.WithTimeSource(" + broken.getClass().getName() + ").WithCancel",
            c.toString());
      }
    }
  }

  /** A value whose toString() throws must not make the context's toString() throw. */
  @Test
  void aValueWhoseToStringFailsPrintsAsItsClass() {
    CharSequence hostile =
        new CharSequence() {
          @Override
          public int length() {
            return 0;
          }

          @Override
          public char charAt(int index) {
            throw new IndexOutOfBoundsException();
          }

          @Override
          public CharSequence subSequence(int start, int end) {
            return this;
          }

          @Override
          public String toString() {
            throw new IllegalStateException("no string for you");
          }
        };
    Context c = Context.withValue(Context.background(), Key.named("k"), hostile);
    String s = c.toString();
    assertTrue(s.startsWith("context.Background.WithValue(k, "), s);
  }

  @Test
  void aKeyPrintsItsName() {
    assertEquals("key1", KEY1.toString());
    assertEquals("key1", KEY1.name());
  }
}
