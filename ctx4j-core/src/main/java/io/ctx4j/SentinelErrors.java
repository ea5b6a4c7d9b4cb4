package io.ctx4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.Serializable;
import java.util.List;
import java.util.Set;

/**
 * Builds the two shared errors, {@link Context#CANCELED} and {@link Context#DEADLINE_EXCEEDED}, so
 * that no user code can change them.
 *
 * <p>Why a serialization round trip. A {@code Throwable} collects whatever anyone hands to {@code
 * addSuppressed} (a try-with-resources whose {@code close()} fails does so), takes a stack trace
 * from {@code setStackTrace}, and until its cause is set, a cause from {@code initCause}. The JDK
 * switches the first two off only through the protected constructor {@code Throwable(String,
 * Throwable, boolean, boolean)}, which {@code CancellationException} does not expose, or through
 * {@code Throwable}'s serialized form: its {@code readObject} (the same on JDK 7 to 25, see the
 * Serialized Form of {@code Throwable}) turns a {@code null} suppressed-exceptions list into
 * "suppression disabled" and a one-element stack trace equal to {@code new StackTraceElement("",
 * "", null, Integer.MIN_VALUE)} into an immutable (null) stack trace. So each sentinel is built as
 * usual, its cause set to none and its stack trace to that marker, written with the list replaced
 * by {@code null}, and read back: what comes back is an ordinary {@code CanceledException} (still a
 * {@code CancellationException}) on which {@code addSuppressed}, {@code setStackTrace} and {@code
 * fillInStackTrace} do nothing and {@code initCause} throws.
 *
 * <p>A probe built the same way is checked after the round trip; should a JDK ever read the form
 * differently (or forbid the round trip: a serial filter, an image without serialization), the
 * sentinels fall back to plain instances without a stack trace, as before, rather than fail the
 * initialization of {@link Context}. The tests check on JDK 17 and 25 that this does not happen.
 *
 * <p>Serializing a sentinel writes a {@link Ref} instead (see {@link ContextException}), which
 * reads back as the canonical instance, so {@code ==} survives a trip through a stream.
 */
final class SentinelErrors {
  private SentinelErrors() {}

  /**
   * The marker element that {@code Throwable}'s serial form reads as "immutable stack trace";
   * declared before the static block that uses it.
   */
  private static final StackTraceElement IMMUTABLE_STACK_MARKER =
      new StackTraceElement("", "", null, Integer.MIN_VALUE);

  static final CanceledException CANCELED;
  static final DeadlineExceededException DEADLINE_EXCEEDED;

  static {
    ContextException[] fresh = {
      new CanceledException(), new DeadlineExceededException(), new CanceledException()
    };
    ContextException[] built = lock(fresh);
    CANCELED = (CanceledException) built[0];
    DEADLINE_EXCEEDED = (DeadlineExceededException) built[1];
  }

  /** Locks {@code es} (the last one a probe) by a round trip; falls back to the plain instances. */
  private static ContextException[] lock(ContextException[] es) {
    for (ContextException e : es) {
      e.initCause(null);
      e.setStackTrace(new StackTraceElement[] {IMMUTABLE_STACK_MARKER});
    }
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024);
      try (ObjectOutputStream out = new Writer(bytes)) {
        out.writeObject(es);
      }
      ContextException[] back;
      try (ObjectInputStream in = new Reader(bytes.toByteArray())) {
        back = (ContextException[]) in.readObject();
      }
      if (back.length == es.length && isLocked(back[back.length - 1])) {
        for (int i = 0; i < es.length; i++) {
          if (back[i].getClass() != es[i].getClass() || back[i].getCause() != null) {
            return unlocked(es);
          }
        }
        return back;
      }
    } catch (IOException | ClassNotFoundException | RuntimeException ex) {
      // Fall through: an unlocked sentinel is worse than a locked one, but better than a Context
      // class that cannot initialize.
    }
    return unlocked(es);
  }

  /** Whether {@code probe} ignores every mutator; it is thrown away after this check. */
  private static boolean isLocked(ContextException probe) {
    probe.addSuppressed(new IllegalStateException("probe"));
    probe.setStackTrace(new StackTraceElement[] {new StackTraceElement("Probe", "probe", null, 1)});
    probe.fillInStackTrace();
    boolean causeLocked;
    try {
      probe.initCause(new IllegalStateException("probe"));
      causeLocked = false;
    } catch (IllegalStateException expected) {
      causeLocked = true;
    }
    return causeLocked
        && probe.getCause() == null
        && probe.getSuppressed().length == 0
        && probe.getStackTrace().length == 0;
  }

  private static ContextException[] unlocked(ContextException[] es) {
    for (ContextException e : es) {
      e.setStackTrace(new StackTraceElement[0]);
    }
    return es;
  }

  /** Tells whether {@code e} is one of the two canonical instances (false while they are built). */
  static boolean isSentinel(ContextException e) {
    return e == CANCELED || e == DEADLINE_EXCEEDED;
  }

  /** Writes the suppressed-exceptions list, the only list in the graph, as null: "disabled". */
  private static final class Writer extends ObjectOutputStream {
    Writer(ByteArrayOutputStream out) throws IOException {
      super(out);
      enableReplaceObject(true);
    }

    @Override
    protected Object replaceObject(Object obj) {
      return obj instanceof List && ((List<?>) obj).isEmpty() ? null : obj;
    }

    /**
     * Writes an array's descriptor with a zero serialVersionUID. The default one is computed with
     * SHA-1, whose first use loads the security providers: about 45 ms of JVM start-up for what a
     * reader ignores anyway (the serialization spec waives the UID check for array classes). The
     * layout is the spec's classDescInfo for a class with no fields.
     */
    @Override
    protected void writeClassDescriptor(ObjectStreamClass desc) throws IOException {
      if (desc.forClass() != null && desc.forClass().isArray()) {
        writeUTF(desc.getName());
        writeLong(0L);
        writeByte(SC_SERIALIZABLE);
        writeShort(0);
      } else {
        super.writeClassDescriptor(desc);
      }
    }
  }

  /**
   * Reads back exactly what {@link Writer} wrote: only these classes, from ctx4j's own class loader
   * (not whatever loader is on the stack), under a filter of its own (not the JVM-wide one, which
   * an application may have made strict).
   */
  private static final class Reader extends ObjectInputStream {
    private static final Set<String> ALLOWED =
        Set.of(
            ContextException[].class.getName(),
            CanceledException.class.getName(),
            DeadlineExceededException.class.getName(),
            ContextException.class.getName(),
            java.util.concurrent.CancellationException.class.getName(),
            IllegalStateException.class.getName(),
            RuntimeException.class.getName(),
            Exception.class.getName(),
            Throwable.class.getName(),
            StackTraceElement.class.getName(),
            StackTraceElement[].class.getName());

    Reader(byte[] bytes) throws IOException {
      super(new ByteArrayInputStream(bytes));
      setObjectInputFilter(new Filter());
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
      if (!ALLOWED.contains(desc.getName())) {
        throw new InvalidClassException(desc.getName(), "not part of a ctx4j sentinel");
      }
      return Class.forName(desc.getName(), false, SentinelErrors.class.getClassLoader());
    }
  }

  /** Admits exactly the classes of the sentinels' graph; a class, not a lambda: cheaper to start. */
  private static final class Filter implements ObjectInputFilter {
    @Override
    public Status checkInput(FilterInfo info) {
      Class<?> c = info.serialClass();
      return c == null || Reader.ALLOWED.contains(c.getName()) ? Status.ALLOWED : Status.REJECTED;
    }
  }

  /**
   * What a sentinel is serialized as: its kind only. Reading it back gives the canonical instance
   * of this JVM, so {@code err() == Context.CANCELED} holds for a deserialized error too.
   */
  static final class Ref implements Serializable {
    private static final long serialVersionUID = 1L;

    private final boolean timeout;

    Ref(boolean timeout) {
      this.timeout = timeout;
    }

    private Object readResolve() {
      return timeout ? Context.DEADLINE_EXCEEDED : Context.CANCELED;
    }
  }
}
