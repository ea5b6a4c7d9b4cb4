package io.ctx4j;

/** How contexts, keys and values are named in {@code toString}, after Go's {@code contextName}. */
final class DisplayNames {
  private DisplayNames() {}

  static String of(Context c) {
    return of((Object) c);
  }

  /**
   * {@code String.valueOf(o)}, or {@code o}'s class name if its {@code toString} fails: logging a
   * context must not fail because of a user's object in it (a custom parent, a time source).
   */
  static String of(Object o) {
    try {
      return String.valueOf(o);
    } catch (RuntimeException | StackOverflowError e) {
      return o.getClass().getName();
    }
  }

  /**
   * Go prints strings and {@code Stringer}s and otherwise only the type, so that logging a context
   * does not dump arbitrary request data; ctx4j prints strings, numbers, booleans, characters and
   * enums, and the class name of anything else.
   */
  static String ofValue(Object v) {
    if (v == null) {
      return "<nil>";
    }
    if (v instanceof CharSequence
        || v instanceof Number
        || v instanceof Boolean
        || v instanceof Character
        || v instanceof Enum) {
      try {
        return String.valueOf(v); // a user's CharSequence or Number may fail: print its class
      } catch (RuntimeException | StackOverflowError e) {
        return v.getClass().getName();
      }
    }
    return v.getClass().getName();
  }
}
