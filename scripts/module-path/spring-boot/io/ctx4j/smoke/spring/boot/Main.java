package io.ctx4j.smoke.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.spring.boot.ContextTaskDecorator;
import io.ctx4j.spring.boot.Ctx4jTaskAutoConfiguration;
import io.ctx4j.spring.boot.ShutdownContext;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.boot.autoconfigure.AutoConfiguration;

/**
 * Module-path smoke test of io.ctx4j.spring.boot, with Spring's jars as automatic modules: the
 * TaskDecorator (spring.core's interface) carries the current context to another thread, the
 * ShutdownContext (spring.context's SmartLifecycle) ends its context with the shutdown cause when
 * stopped, and an auto-configuration's @AutoConfiguration (spring.boot.autoconfigure) is readable.
 */
public final class Main {
  public static void main(String[] args) throws Exception {
    Key<String> user = Key.named("user");
    Context ctx = Context.withValue(Context.background(), user, "ann");
    AtomicReference<String> seen = new AtomicReference<>();
    Runnable task = CurrentContext.call(ctx,
        () -> new ContextTaskDecorator().decorate(() -> seen.set(CurrentContext.get().value(user))));
    Thread t = new Thread(task);
    t.start();
    t.join();
    if (!"ann".equals(seen.get())) throw new AssertionError("decorated task saw " + seen.get());

    ShutdownContext shutdown = new ShutdownContext();
    shutdown.start();
    shutdown.stop();
    if (!(shutdown.context().cause() instanceof RequestCanceledException e)
        || e.reason() != RequestCanceledException.Reason.SERVER_SHUTDOWN) {
      throw new AssertionError("shutdown context ended with " + shutdown.context().cause());
    }
    if (!Ctx4jTaskAutoConfiguration.class.isAnnotationPresent(AutoConfiguration.class)) {
      throw new AssertionError("@AutoConfiguration not visible");
    }
    System.out.println("io.ctx4j.spring.boot ok: " + Ctx4jTaskAutoConfiguration.class.getModule()
        + " reads " + AutoConfiguration.class.getModule());
  }
}
