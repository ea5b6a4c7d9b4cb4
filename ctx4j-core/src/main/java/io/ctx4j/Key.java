package io.ctx4j;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A typed key for request-scoped values, the Java form of Go's advice to use an unexported key type
 * with {@code context.WithValue}.
 *
 * <p>Keys compare by identity: two keys with the same name are different keys, so a library can
 * never clash with another one's values. Create each key once, typically as a {@code static final}
 * field, and keep it private to the code that owns the value:
 *
 * <pre>{@code
 * private static final Key<String> USER_ID = Key.named("userID");
 * Context ctx = Context.withValue(parent, USER_ID, "42");
 * String user = ctx.value(USER_ID); // "42"
 * }</pre>
 *
 * <p>A key made with {@link #of(String, Class)} also checks at {@link Context#withValue} time that
 * the value is an instance of its type, which catches raw-type misuse early. Keys are immutable and
 * thread-safe.
 *
 * @param <T> the type of the values bound to this key
 * @since 0.1
 */
public final class Key<T> {
  private static final AtomicInteger SEQUENCE = new AtomicInteger();

  private final String name;
  private final Class<T> type;
  /**
   * Position in value snapshots (tables and tries). A multiplication by an odd constant permutes the
   * 32-bit integers, so distinct sequence numbers never share a hash, and it permutes their low bits
   * too, so keys made one after another take distinct slots in a table.
   */
  final int hash;

  private Key(String name, Class<T> type) {
    this.name = name;
    this.type = type;
    this.hash = SEQUENCE.getAndIncrement() * 0x9E3779B9;
  }

  /**
   * Creates a new key, distinct from every other key.
   *
   * @param name a name shown by {@link #toString()} and in a context's {@code toString()}; for
   *     debugging only
   * @param <T> the type of the values bound to this key
   * @return a new key
   * @throws NullPointerException if {@code name} is null
   */
  public static <T> Key<T> named(String name) {
    return new Key<>(Objects.requireNonNull(name, "name"), null);
  }

  /**
   * Creates a new key whose values must be instances of {@code type}; {@link Context#withValue}
   * rejects any other value with an {@link IllegalArgumentException}.
   *
   * @param name a name for debugging
   * @param type the class every bound value must be an instance of; a primitive class stands for
   *     its wrapper
   * @param <T> the type of the values bound to this key
   * @return a new key
   * @throws NullPointerException if {@code name} or {@code type} is null
   */
  public static <T> Key<T> of(String name, Class<T> type) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(type, "type");
    // A value reaches withValue boxed, so a primitive class would reject every value.
    @SuppressWarnings("unchecked")
    Class<T> checked = type.isPrimitive() ? (Class<T>) boxed(type) : type;
    return new Key<>(name, checked);
  }

  private static Class<?> boxed(Class<?> primitive) {
    return java.lang.invoke.MethodType.methodType(primitive).wrap().returnType();
  }

  /**
   * Returns the name given at creation.
   *
   * @return the key's name
   */
  public String name() {
    return name;
  }

  T check(Object value) {
    if (type != null && value != null && !type.isInstance(value)) {
      throw new IllegalArgumentException(
          "value of type "
              + value.getClass().getName()
              + " does not fit key "
              + name
              + " of type "
              + type.getName());
    }
    @SuppressWarnings("unchecked")
    T t = (T) value;
    return t;
  }

  /** Returns the key's name. */
  @Override
  public String toString() {
    return name;
  }
}
