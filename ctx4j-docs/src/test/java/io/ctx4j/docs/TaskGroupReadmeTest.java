package io.ctx4j.docs;

import static io.ctx4j.docs.Shop.render;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.docs.Shop.Order;
import io.ctx4j.docs.Shop.OrderService;
import io.ctx4j.docs.Shop.Page;
import io.ctx4j.docs.Shop.User;
import io.ctx4j.docs.Shop.UserService;
import io.ctx4j.taskgroup.TaskGroup;
import io.ctx4j.taskgroup.TaskGroupException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The snippets of ctx4j-taskgroup/README.md, run. */
@Timeout(120)
class TaskGroupReadmeTest {
  UserService userService = (c, id) -> new User(id);
  OrderService orderService = (c, id) -> List.of(new Order(id * 10));

  Page page(long id) throws Exception {
    // snippet:start open
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(3));
         TaskGroup group = TaskGroup.open(ctx)) {
      CompletableFuture<User> user = group.go(c -> userService.fetch(c, id));          // may throw anything
      CompletableFuture<List<Order>> orders = group.go(c -> orderService.fetch(c, id));
      group.await();                  // TaskGroupException: cause = first failure, others suppressed
      return render(user.join(), orders.join());
    }                                 // close(): cancel, interrupt, wait for every task
    // snippet:end open
  }

  @Test
  void openFetchesBothOrTimesOut() throws Exception {
    assertEquals(new Page(new User(4), List.of(new Order(40))), page(4));
    orderService = (c, id) -> {
      c.await();                      // never answers: the 3 s timeout ends the wait
      throw c.err();
    };
    TaskGroupException e = assertThrows(TaskGroupException.class, () -> page(4));
    assertInstanceOf(DeadlineExceededException.class, e.getCause());
  }

  final AtomicInteger active = new AtomicInteger();
  final AtomicInteger maxActive = new AtomicInteger();
  final Set<Path> digested = ConcurrentHashMap.newKeySet();

  int digest(Context ctx, Path file) throws Exception {
    int now = active.incrementAndGet();
    maxActive.accumulateAndGet(now, Math::max);
    try {
      ctx.throwIfDone();
      digested.add(file);
      return Files.readString(file, StandardCharsets.UTF_8).hashCode();
    } finally {
      active.decrementAndGet();
    }
  }

  void digestAll(Context ctx, List<Path> files) throws Exception {
    // snippet:start limit
    try (TaskGroup group = TaskGroup.builder(ctx).limit(8).build()) {
      for (Path file : files) {
        group.go(c -> digest(c, file));   // waits while 8 tasks are active; stops waiting if ctx ends
      }
      group.await();
    }
    // snippet:end limit
  }

  @Test
  void limitBoundsTheActiveTasks(@TempDir Path dir) throws Exception {
    List<Path> files = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      files.add(Files.writeString(dir.resolve("f" + i), "file " + i, StandardCharsets.UTF_8));
    }
    digestAll(Context.background(), files);
    assertEquals(Set.copyOf(files), digested);
    assertEquals(true, maxActive.get() <= 8, "at most 8 at once, saw " + maxActive.get());
  }
}
