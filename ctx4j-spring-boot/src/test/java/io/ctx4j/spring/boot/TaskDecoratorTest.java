package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.task.SimpleAsyncTaskSchedulerBuilder;
import org.springframework.boot.task.ThreadPoolTaskSchedulerBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.core.task.AsyncTaskExecutor;
import org.springframework.scheduling.TaskScheduler;
import org.springframework.scheduling.annotation.Async;
import org.springframework.scheduling.annotation.EnableAsync;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * The {@link ContextTaskDecorator} in a Spring Boot application on Tomcat: an {@code @Async} method
 * and a task on the auto-configured {@code applicationTaskExecutor}, both started by a request,
 * run with that request's context (the same instance: its deadline, and its end when the request
 * is over); a pool thread keeps no binding once the task is done; a {@code @Scheduled} task, which
 * no request starts, runs under {@code Context.background()}, which nothing ends.
 */
@Timeout(120)
class TaskDecoratorTest {
  private static final Hops HOPS = new Hops();
  private static ConfigurableApplicationContext app;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @EnableAsync
  @EnableScheduling
  static class TaskApp {
    @Bean
    Worker worker(Hops hops) {
      return new Worker(hops);
    }

    @Bean
    Ticks ticks() {
      return new Ticks();
    }

    @Bean
    TaskController taskController(
        Worker worker, @Qualifier("applicationTaskExecutor") AsyncTaskExecutor applicationTaskExecutor, Hops hops) {
      return new TaskController(worker, applicationTaskExecutor, hops);
    }
  }

  /** An {@code @Async} method that waits for the test, then records the context it runs with. */
  static class Worker {
    private final Hops hops;

    Worker(Hops hops) {
      this.hops = hops;
    }

    @Async
    public void later(String id) throws InterruptedException {
      Hops.Hop h = hops.get(id);
      h.release.await(20, TimeUnit.SECONDS);
      h.protocol = Thread.currentThread().getName();
      h.enter(CurrentContext.get());
    }
  }

  /** A {@code @Scheduled} task recording the context it runs with. */
  static class Ticks {
    final CountDownLatch ticked = new CountDownLatch(1);
    volatile Context seen;

    @Scheduled(fixedDelay = 50)
    public void tick() {
      seen = CurrentContext.get();
      ticked.countDown();
    }
  }

  @RestController
  static class TaskController {
    private final Worker worker;
    private final AsyncTaskExecutor executor;
    private final Hops hops;

    TaskController(Worker worker, AsyncTaskExecutor executor, Hops hops) {
      this.worker = worker;
      this.executor = executor;
      this.hops = hops;
    }

    /** Hands work to {@code @Async} and answers at once, so the request ends before the task runs. */
    @GetMapping("/async")
    String async(@RequestParam(name = "id") String id) throws InterruptedException {
      hops.get(id + "-handler").enter(CurrentContext.get());
      worker.later(id);
      return "handed over";
    }

    /** Runs a task on the application's executor and tells whether it saw this request's context. */
    @GetMapping("/executor")
    String executor() throws Exception {
      Context mine = CurrentContext.get();
      Context seen = executor.submit(CurrentContext::get).get(10, TimeUnit.SECONDS);
      return (seen == mine ? "same" : "other: " + seen) + ", deadline " + seen.deadline().isPresent();
    }
  }

  @BeforeAll
  static void start() {
    app = Apps.start(TaskApp.class, Apps.Server.TOMCAT, Map.of(), Map.of("hops", HOPS));
  }

  @AfterAll
  static void stop() {
    if (app != null) {
      app.close();
    }
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(Apps.url(app) + path)).header("Ctx4j-Timeout-Ms", "20000").build(),
        BodyHandlers.ofString());
  }

  /**
   * The {@code @Async} task runs with the request's own context, and, the request being over by
   * the time it runs, finds it ended "response completed": work handed off from a request ends
   * with it, as in Go.
   */
  @Test
  void anAsyncMethodRunsWithTheRequestsContextWhichEndsWithTheRequest() throws Exception {
    HttpResponse<String> r = get("/async?id=a1");
    assertEquals("handed over", r.body());
    Hops.Hop handler = HOPS.get("a1-handler");
    assertTrue(handler.ended.await(10, TimeUnit.SECONDS), "the request's context never ended");
    Hops.Hop task = HOPS.get("a1");
    task.release.countDown();
    assertTrue(task.entered.await(10, TimeUnit.SECONDS), "the @Async task never ran");
    assertSame(handler.ctx, task.ctx, "the @Async task did not run with the request's context");
    assertTrue(task.ctx.isDone());
    assertEquals(Reason.RESPONSE_COMPLETED, ((RequestCanceledException) task.ctx.cause()).reason());
    assertTrue(task.protocol.startsWith("task-"), "not on the application's executor: " + task.protocol);
  }

  /** A task on {@code applicationTaskExecutor} sees the request's context and its deadline. */
  @Test
  void theApplicationTaskExecutorCarriesTheRequestsContext() throws Exception {
    HttpResponse<String> r = get("/executor");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("same, deadline true", r.body());
  }

  /**
   * Once a decorated task is done its pool thread has no binding left: the next task, undecorated,
   * finds none; and the application's executor gives a task submitted where nothing is bound the
   * background, not a context an earlier task left behind.
   */
  @Test
  void aPoolThreadKeepsNoBindingAfterTheTask() throws Exception {
    ContextTaskDecorator decorator = app.getBean(ContextTaskDecorator.class);
    ExecutorService one = Executors.newSingleThreadExecutor();
    try (CancelableContext request = Context.withCancel(Context.background())) {
      Context[] inside = new Context[1];
      CurrentContext.run(request, () -> one.execute(decorator.decorate(() -> inside[0] = CurrentContext.get())));
      boolean[] boundAfter = new boolean[1];
      one.submit(() -> boundAfter[0] = CurrentContext.isBound()).get(10, TimeUnit.SECONDS);
      assertSame(request, inside[0]);
      assertFalse(boundAfter[0], "the pool thread kept the decorated task's binding");
    } finally {
      one.shutdown();
    }
    AsyncTaskExecutor executor = app.getBean("applicationTaskExecutor", AsyncTaskExecutor.class);
    assertEquals("same, deadline true", get("/executor").body()); // a pool thread ran a request's task
    for (int i = 0; i < 4; i++) { // the pool's threads in turn (its core size is 8: some at least)
      assertSame(Context.background(), executor.submit(CurrentContext::get).get(10, TimeUnit.SECONDS));
    }
  }

  /** A task that records the context it runs with. */
  private static Runnable recording(CompletableFuture<Context> seen) {
    return () -> seen.complete(CurrentContext.get());
  }

  /**
   * Spring Boot applies the decorator to its task schedulers too, but each decorates at its own
   * moment. {@code ThreadPoolTaskScheduler} (Boot's on platform threads) decorates a task when it
   * is scheduled, in the scheduling thread: the task runs with that thread's context. {@code
   * SimpleAsyncTaskScheduler} (Boot's with {@code spring.threads.virtual.enabled=true} on JDK 21+)
   * decorates a scheduled task only when it fires, on its timer thread, where nothing is bound: the
   * task runs under {@code Context.background()}. Both carry the context of an {@code execute} and
   * of a task scheduled as {@code CurrentContext.wrap(task)}; and a task scheduled later where
   * nothing is bound finds the background, not a context left by an earlier one. Both schedulers
   * are built with Spring Boot's own builders, which apply the application's decorators.
   */
  @ParameterizedTest
  @CsvSource({"ThreadPoolTaskScheduler, true", "SimpleAsyncTaskScheduler, false"})
  void aTaskScheduledForLaterCarriesTheContextOnlyWhereTheSchedulerDecoratesItWhenScheduled(
      String type, boolean scheduledCarries) throws Exception {
    TaskScheduler scheduler =
        type.equals("ThreadPoolTaskScheduler")
            ? app.getBean(ThreadPoolTaskSchedulerBuilder.class).build()
            : app.getBean(SimpleAsyncTaskSchedulerBuilder.class).build();
    if (scheduler instanceof ThreadPoolTaskScheduler pool) {
      pool.initialize();
    }
    assertEquals(type, scheduler.getClass().getSimpleName());
    try (CancelableContext request = Context.withCancel(Context.background())) {
      CompletableFuture<Context> scheduled = new CompletableFuture<>();
      CompletableFuture<Context> executed = new CompletableFuture<>();
      CompletableFuture<Context> wrapped = new CompletableFuture<>();
      CurrentContext.run(request, () -> {
        scheduler.schedule(recording(scheduled), Instant.now().plusMillis(20));
        ((Executor) scheduler).execute(recording(executed));
        scheduler.schedule(CurrentContext.wrap(recording(wrapped)), Instant.now().plusMillis(20));
      });
      assertSame(scheduledCarries ? request : Context.background(), scheduled.get(10, TimeUnit.SECONDS), "scheduled");
      assertSame(request, executed.get(10, TimeUnit.SECONDS), "executed");
      assertSame(request, wrapped.get(10, TimeUnit.SECONDS), "scheduled, wrapped");
      CompletableFuture<Context> later = new CompletableFuture<>();
      scheduler.schedule(recording(later), Instant.now());
      assertSame(Context.background(), later.get(10, TimeUnit.SECONDS), "scheduled later, unbound");
    } finally {
      if (scheduler instanceof DisposableBean d) {
        d.destroy(); // ThreadPoolTaskScheduler
      } else {
        ((AutoCloseable) scheduler).close(); // SimpleAsyncTaskScheduler
      }
    }
  }

  /**
   * A {@code @Scheduled} task is started by the scheduler, not by a request: it runs under {@code
   * Context.background()}, which never ends. Work that must stop at shutdown derives its context
   * from {@code ShutdownContext.context()} (the README says how).
   */
  @Test
  void aScheduledTaskRunsUnderTheBackground() throws Exception {
    Ticks ticks = app.getBean(Ticks.class);
    assertTrue(ticks.ticked.await(10, TimeUnit.SECONDS), "the scheduled task never ran");
    assertNotNull(ticks.seen);
    assertSame(Context.background(), ticks.seen);
  }
}
