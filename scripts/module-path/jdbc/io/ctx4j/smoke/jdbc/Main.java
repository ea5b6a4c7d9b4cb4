package io.ctx4j.smoke.jdbc;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.jdbc.ContextStatements;
import java.lang.reflect.Proxy;
import java.sql.Statement;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Module-path smoke test of io.ctx4j.jdbc: cancelling the context cancels the statement. */
public final class Main {
  @SuppressWarnings("try") // the registration is held for its side effect
  public static void main(String[] args) throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    Statement statement = (Statement) Proxy.newProxyInstance(Main.class.getClassLoader(),
        new Class<?>[] {Statement.class}, (proxy, method, a) -> {
          if (method.getName().equals("cancel")) cancelled.countDown();
          return method.getReturnType() == int.class ? 0
              : method.getReturnType() == boolean.class ? false : null;
        });
    try (CancelableContext ctx = Context.withCancel(Context.background());
         Registration r = ContextStatements.bind(ctx, statement)) {
      ctx.cancel();
      if (!cancelled.await(30, TimeUnit.SECONDS)) throw new AssertionError("statement not cancelled");
    }
    System.out.println("io.ctx4j.jdbc ok");
  }
}
