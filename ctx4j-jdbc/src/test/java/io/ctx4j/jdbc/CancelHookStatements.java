package io.ctx4j.jdbc;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Wraps a real H2 statement in a delegating one whose {@code cancel()} goes through a hook: a slow
 * cancel (a driver that opens a connection to send it) or a failing one. Every other call reaches
 * the H2 statement unchanged.
 */
final class CancelHookStatements {
  private CancelHookStatements() {}

  /** What {@code cancel()} does instead of (or around) the real one. */
  @FunctionalInterface
  interface CancelHook {
    void cancel(Statement real) throws SQLException;
  }

  /**
   * Returns a statement implementing {@code type} that delegates to {@code real} except for {@code
   * cancel()}.
   */
  static <S extends Statement> S wrap(Class<S> type, S real, CancelHook hook) {
    Object proxy =
        Proxy.newProxyInstance(
            CancelHookStatements.class.getClassLoader(),
            new Class<?>[] {type},
            (self, method, args) -> {
              if (method.getName().equals("cancel") && method.getParameterCount() == 0) {
                hook.cancel(real);
                return null;
              }
              if (method.getName().equals("toString") && method.getParameterCount() == 0) {
                return "hooked " + real;
              }
              try {
                return method.invoke(real, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
    return type.cast(proxy);
  }
}
