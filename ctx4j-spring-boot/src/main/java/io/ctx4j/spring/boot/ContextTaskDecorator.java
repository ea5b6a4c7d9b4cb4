package io.ctx4j.spring.boot;

import io.ctx4j.concurrent.CurrentContext;
import org.springframework.core.task.TaskDecorator;

/**
 * A {@link TaskDecorator} that runs each task with the ctx4j context that was current ({@link
 * CurrentContext#get()}) in the thread that submitted it, so that {@code @Async} methods and tasks
 * on Spring's executors see the request's context, deadline and values. Spring Boot 4 applies every
 * {@code TaskDecorator} bean to its auto-configured executors (composed in order), so this one works
 * beside others, such as Micrometer's {@code ContextPropagatingTaskDecorator}.
 *
 * <p>A decorator runs where the executor calls it. Spring Boot's task schedulers get this one too:
 * a {@code ThreadPoolTaskScheduler} decorates a task when it is scheduled, so the task carries the
 * scheduling thread's context; a {@code SimpleAsyncTaskScheduler} (Spring Boot's with virtual
 * threads) decorates a scheduled task only when it fires, on its timer thread, so it runs under
 * {@code Context.background()}. Schedule {@code CurrentContext.wrap(task)} to carry the context on
 * either.
 *
 * <p>Only the binding travels: the task still has to look at the context ({@code
 * CurrentContext.get().isDone()}, or pass it to blocking calls) to stop when it ends. The decorator
 * refuses nothing: a task whose context has ended, or whose deadline has passed, by the time a
 * thread takes it still runs, as a goroutine started with an ended context does in Go. Skipping it
 * here would drop work silently (an {@code @Async void} method, a bare {@code execute}) or fail it
 * in a way each executor reports differently, and would also skip work that must run anyway, such
 * as cleanup. What the task sends out under the context is refused where it goes out: the
 * RestClient and WebClient integrations of this module, ctx4j-http, ctx4j-okhttp,
 * ctx4j-httpclient5 and ctx4j-jdbc send nothing past the deadline, even before ctx4j's timer has
 * ended the context.
 *
 * <p>Thread safety: stateless and thread-safe. Memory consistency effects: submitting a task
 * happens-before it reads the captured context (those of {@link CurrentContext#wrap(Runnable)}).
 *
 * @since 0.1
 */
public final class ContextTaskDecorator implements TaskDecorator {

  /** Creates the decorator. */
  public ContextTaskDecorator() {}

  /**
   * Returns {@code runnable} wrapped so that it runs with the context current now.
   *
   * @param runnable the task
   * @return the wrapped task
   * @throws NullPointerException if {@code runnable} is null
   */
  @Override
  public Runnable decorate(Runnable runnable) {
    return CurrentContext.wrap(runnable);
  }
}
