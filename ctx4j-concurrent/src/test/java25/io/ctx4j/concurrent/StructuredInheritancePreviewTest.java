package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.ctx4j.Context;
import io.ctx4j.Key;
import java.util.concurrent.StructuredTaskScope;
import java.util.concurrent.StructuredTaskScope.Subtask;
import org.junit.jupiter.api.Test;

/** JDK 25 only (preview API): the forks of a StructuredTaskScope inherit the current context. */
class StructuredInheritancePreviewTest {
  private static final Key<String> TENANT = Key.of("tenant", String.class);

  @Test
  void forksOfAStructuredTaskScopeSeeTheBoundContext() throws Exception {
    Context ctx = Context.withValue(Context.background(), TENANT, "acme");
    String seen =
        CurrentContext.call(
            ctx,
            () -> {
              try (var scope = StructuredTaskScope.open()) {
                Subtask<Context> fork = scope.fork(CurrentContext::get);
                scope.join();
                assertSame(ctx, fork.get());
                return fork.get().value(TENANT);
              }
            });
    assertEquals("acme", seen);
    assertSame(Context.background(), CurrentContext.get(), "the binding ended with its scope");
  }
}
