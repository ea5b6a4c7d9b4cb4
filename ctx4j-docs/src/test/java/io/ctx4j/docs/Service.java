package io.ctx4j.docs;

// snippet:start quick-start
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import java.time.Duration;

final class Service {
  static final Key<String> USER = Key.named("user");

  private final Backend backend;   // your client: CompletableFuture<String> fetchAsync(Request)

  Service(Backend backend) {
    this.backend = backend;
  }

  String handle(Request req) throws Exception {
    Context root = Context.withValue(Context.background(), USER, req.user());
    try (CancelableContext ctx = Context.withTimeout(root, Duration.ofSeconds(3))) {
      return ctx.await(backend.fetchAsync(req));   // the reply, or the context's error
    } // closing cancels: Go's `defer cancel()`
  }

  void worker(Context ctx) {
    while (!ctx.isDone()) {                        // poll, like `select { case <-ctx.Done(): }`
      Thread.onSpinWait();                         // ... a slice of the work
    }
    System.out.println(ctx.err() + " because " + Context.cause(ctx));
  }
}
// snippet:end quick-start
