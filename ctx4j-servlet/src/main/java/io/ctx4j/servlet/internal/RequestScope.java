package io.ctx4j.servlet.internal;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The filter's per-request state: the request context, and the listener the container's failure
 * notices go to. Not part of the API.
 *
 * <p>Implementation notes. The request ends ({@link #end}) from whichever thread sees it first: the
 * dispatch thread when the handler returns, a container thread running an {@link AsyncListener}
 * callback or Jetty's failure listener ({@link #accept}), a thread writing the response. Ending
 * twice is harmless: {@code cancel} keeps the first cause. Nothing the scope registers outlives the
 * request (the async listener and Jetty's failure listener belong to the request, the wait after
 * an application's {@code complete()} is a child of the request context), so there is nothing to
 * undo when it ends. No lock; no callback runs under one.
 *
 * <p>Thread-safe.
 */
public final class RequestScope implements AsyncListener, Consumer<Throwable> {
  /** The cause of a request context whose handler returned; shared, immutable. */
  public static final RequestCanceledException COMPLETED =
      new RequestCanceledException(Reason.RESPONSE_COMPLETED, null, null);

  /**
   * The request attribute that holds the scope, for the request's later dispatches: read-only
   * through the filter's request ({@link ScopedRequest}), as the context attribute is.
   */
  public static final String ATTRIBUTE = "io.ctx4j.servlet.internal.RequestScope";

  private static final VarHandle LEASE;

  static {
    try {
      LEASE =
          MethodHandles.lookup().findVarHandle(RequestScope.class, "lease", SharedDeadlines.Entry.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final CancelableContext ctx;

  /**
   * The shared deadline the context is a child of, given back once by the first {@link #end};
   * null when there is none or it was given back. Written through {@link #LEASE}.
   */
  @SuppressWarnings("unused") // LEASE
  private volatile SharedDeadlines.Entry lease;

  /** Set once the listener is registered with the first async cycle; later cycles re-register. */
  private volatile boolean listening;

  /**
   * Set once the application has sent an error answer ({@code sendError}) through the filter's
   * response: Tomcat then reports the async dispatch of that response to {@code onError}, with no
   * throwable, which is no sign of the client.
   */
  private volatile boolean errorSent;

  /** Set once the filter has handed the request on to its first async cycle. */
  private volatile boolean handedOn;

  /**
   * Set while the filter runs an ASYNC dispatch of the request, so that a second pass of the filter
   * in that dispatch only binds the context. Used by the dispatch threads alone, which the
   * container runs one at a time for a request; volatile so as not to depend on how the container
   * orders them.
   */
  private volatile boolean inDispatch;

  // The response's body, as the filter's watched streams and writers count it: one count per
  // request for each, whichever of the filter's wrappers of the response (the chain's, the
  // AsyncContext's, an ASYNC dispatch's, each over a wrapper in front that may hand out streams of
  // its own) a write went through, so that a refusal of bytes past the declared length is told
  // from a lost client on what the container was given in all. Only a watched stream or writer
  // whose response lies over the container's through wrappers, none of them another of the
  // filter's for this request, counts (the one nearest the container): one over an application's
  // wrapper given to startAsync, itself over ours, would count the same bytes twice. Used by one
  // thread at a time, as the response is; the containers order the threads that take turns with
  // it (a dispatch, then the thread of AsyncContext.start).

  /** Bytes the container took through the request's watched streams: writes that returned. */
  long written;

  /**
   * The container's own response, beneath the wrappers of the chain's: a watched stream counts
   * only over it, and a close through a response right over it reaches the container. Set by the
   * request's first watched response.
   */
  Object containerResponse;

  /**
   * Set once {@code close()} ran through a watched stream whose response wraps the container's
   * own, with nothing in between (the application's close, or a forward's as Jetty ends one): the
   * containers refuse a later write for that reason alone ("Closed", "may not be written to once
   * it has been closed"), and the client may have had the whole answer. A close through a wrapper
   * (in front of the filter, or given to {@code startAsync}) counts for its own response's streams
   * only: the wrapper may keep the container's stream open.
   */
  boolean outClosed;

  /**
   * Bytes handed to the request's watched writers, line separators included, as far as they are
   * known: never more than they encode to (see {@code WatchedResponse.WatchedWriter}).
   */
  long writerBytes;

  /**
   * {@link #writerBytes} at the last check of a writer that found no error, -1 before one: once
   * that covers the declared length, the whole body went out, and a later error is the container
   * refusing what came after it.
   */
  long writerChecked = -1;

  /**
   * The last character handed to a writer was a high surrogate (counted 1): a low one next
   * completes a pair of 4 bytes (both containers' encoders join the halves across calls).
   */
  boolean writerHighPending;

  /**
   * Set by the first close of a writer whose response wraps the container's own (as {@link
   * #outClosed}), or of one through a wrapper in front that was seen to close the container's
   * writer with its own ({@code WatchedWriter.closeThroughAWrapper}): the checks of every writer of
   * the request stop, also of one taken later, since a closed writer is in error on Jetty (which
   * closes its writer itself at a redirect).
   */
  boolean writerClosed;

  /**
   * The writer beneath the last watched writer closed through a wrapper in front (what the
   * wrapper's {@code getWriter()} gave): a watched writer of the request over that same object
   * takes the close for its own and checks no more. By identity only, so that no check of a writer
   * over another object is silenced: a wrapper that hands out a new {@code PrintWriter} over the
   * container's on every call stays out of reach (README, limits).
   */
  java.io.PrintWriter closedThroughAWrapper;

  /**
   * The container's own writer, as a watched response right over the container's took it (the
   * {@code AsyncContext}'s, or the chain's with no wrapper in front); null while none did.
   */
  java.io.PrintWriter containerWriter;

  /**
   * How many writers written to the request keeps for the check at a dispatch's return: the first
   * ones (the chain's, the {@code AsyncContext}'s, an ASYNC dispatch's) and the last. Bounded, so
   * that a wrapper in front that hands out a new writer per call does not grow the request.
   */
  static final int WRITERS_KEPT = 8;

  /**
   * The request's watched writers that count (see {@link #written}) written to and not closed, in
   * the order first written, {@link #writerCount} of them: those right over the container's writer
   * and the last written are asked for a failure they swallowed at the end of the cycle ({@link
   * #writerAtTheEnd}); the others are kept as they came, each the last written when it did. Not
   * only the last written: a loss in the unflushed writes of one over the container's is not seen
   * through another over a wrapper that buffers, or shields the close. Past {@link #WRITERS_KEPT},
   * a new writer takes the last place, so the last written is always kept; the one it pushes out is
   * kept apart if it lies right over the container's writer and the new one does not ({@link
   * #overTheContainers}). Made at the first write: most requests never take a writer, and the
   * filter's cost is per request.
   */
  private WatchedResponse.WatchedWriter[] writers;

  private int writerCount;

  /** Keeps {@code w}, just written to, for the check at a dispatch's return ({@link #writers}). */
  void writtenTo(WatchedResponse.WatchedWriter w) {
    int n = writerCount;
    if (n > 0 && writers[n - 1] == w) {
      return; // the common case: the same writer again
    }
    if (writers == null) {
      writers = new WatchedResponse.WatchedWriter[WRITERS_KEPT];
    }
    for (int i = 0; i < n - 1; i++) {
      if (writers[i] == w) {
        return;
      }
    }
    if (n < writers.length) {
      writers[n] = w;
      writerCount = n + 1;
    } else {
      WatchedResponse.WatchedWriter out = writers[n - 1];
      if (out.overTheContainers() && !w.overTheContainers()) {
        // A writer right over the container's sees a loss in any write that reached it; one over
        // a wrapper's writer may not (a close shield, a plain Writer in between).
        overTheContainers = out;
      }
      writers[n - 1] = w;
    }
    assert writerCount <= WRITERS_KEPT;
  }

  /**
   * The last writer right over {@link #containerWriter} that a new one pushed out of {@link
   * #writers}, asked with them; null while none was.
   */
  private WatchedResponse.WatchedWriter overTheContainers;

  /**
   * A copy of the kept writers ({@link #writers}, then {@link #overTheContainers}): a check that
   * ends the request runs the request's callbacks, which may close one.
   */
  private WatchedResponse.WatchedWriter[] kept() {
    int n = writerCount;
    WatchedResponse.WatchedWriter[] out =
        java.util.Arrays.copyOf(writers, overTheContainers == null ? n : n + 1);
    if (overTheContainers != null) {
      out[n] = overTheContainers;
    }
    return out;
  }

  /** Forgets {@code w}, closed: a closed writer is never asked again. */
  void closed(WatchedResponse.WatchedWriter w) {
    if (overTheContainers == w) {
      overTheContainers = null;
    }
    int n = writerCount;
    for (int i = 0; i < n; i++) {
      if (writers[i] == w) {
        System.arraycopy(writers, i + 1, writers, i, n - i - 1);
        writers[n - 1] = null;
        writerCount = n - 1;
        return;
      }
    }
  }

  /**
   * Set once the application answered with {@code sendError} or {@code sendRedirect} through any
   * of the filter's wrappers of the response. Nothing may be written after either (Tomcat ignores
   * such writes, Jetty closes its output at a redirect and refuses writes after an error), so a
   * failure of any watched stream or writer of the request, taken before or after, through any
   * wrapper, is no news of the client from then on. Used as {@link #written} is.
   */
  boolean answered;

  /**
   * The last failure of the container's output that a watched stream judged a refusal of bytes
   * past the declared length, not a lost client: a watched stream that wraps another one (an
   * application's wrapper given to {@code startAsync} that hands out a stream of its own over
   * ours), and a later flush that fails because of it (Tomcat's {@code ClientAbortException} with
   * the refusal as its cause), see it again and must not take it for a lost client. Used as
   * {@link #written} is.
   */
  IOException refused;

  /** As {@link #refused}, for the writers: a writer's error stays set, so a flag is enough. */
  boolean writerRefused;

  /**
   * Whether {@code e} is, or is caused by, the failure a watched stream judged a refusal already
   * ({@link #refused}). Bounded: a cause chain may loop, or be long.
   */
  boolean refusedAlready(Throwable e) {
    IOException r = refused;
    // A getCause that throws hides the refusal: judged as a failure.
    return r != null && findCause(e, t -> t == r) != null;
  }

  /** What was counted is discarded with the buffered body (a reset, a forward). */
  void bodyDiscarded() {
    refused = null;
    writerRefused = false;
    written = 0;
    writerBytes = 0;
    writerChecked = -1;
    writerHighPending = false;
  }

  /**
   * Asks the request's writers right over the container's writer and the last written ({@link
   * #writers}) for a failure they swallowed, as each one's
   * {@code close} would ({@link WatchedResponse.WatchedWriter#checkAtTheEnd}): a client lost in
   * their writes then ends the request. Tomcat 11 reports that loss through {@code onError} only
   * for a {@code complete()} made after the dispatch returned (and not always), and calls {@code
   * onComplete} for one made during it; Jetty 12.1 reports it in neither case. So it runs when a
   * dispatch returns after a {@code complete()} made during it ({@link #dispatchReturned}): on the
   * dispatch's thread once the handler returned, no other thread writes (the application is done)
   * and the container has not closed the writer yet (it carries out the {@code complete()} later).
   * Not in {@code complete()} itself: the check flushes, which blocks an application thread until
   * a slow client reads (or a closed HTTP/2 window opens), and would end the request, running its
   * callbacks, inside the application's {@code complete()}; nor after the container closed the
   * writer (a second {@code complete()}: Jetty's closed writer reports an error). Only while the
   * request is live and the container holds it ({@code letGo} false); never throws.
   *
   * @param letGo whether the container has let go of the request (recycled it)
   */
  private void writerAtTheEnd(BooleanSupplier letGo) {
    if ((writerCount == 0 && overTheContainers == null) || ctx.isDone()) {
      return;
    }
    WatchedResponse.WatchedWriter[] kept = kept();
    try {
      if (letGo.getAsBoolean()) {
        return;
      }
      WatchedResponse.WatchedWriter last = writerCount == 0 ? null : writers[writerCount - 1];
      for (WatchedResponse.WatchedWriter w : kept) {
        if (ctx.isDone()) {
          return;
        }
        // The check flushes: only a writer right over the container's (its flush sends what the
        // container's writer holds, which complete() would send) and the last written (as its
        // close would); another's flush would send text its application never flushed.
        if (w != null && (w == last || w.overTheContainers())) {
          w.checkAtTheEnd();
        }
      }
    } catch (RuntimeException refused) {
      // A response the container refuses to answer (let go of under a racing thread): the
      // container's own report, or the wait, ends the request.
    }
  }

  /**
   * How long the filter waits for the container's report after the application's {@code
   * complete()} before it asks whether the container let go of the request: the report ({@code
   * onComplete}, or Tomcat's {@code onError} for a client lost in the last writes) normally comes
   * within milliseconds, or once the last buffered bytes reached a slow client.
   */
  static final Duration COMPLETE_GRACE = Duration.ofSeconds(2);

  /**
   * Whether the container let go of the request, for a {@code complete()} taken during a dispatch
   * that had not returned yet: asked once it has ({@link #dispatchReturned}). Written before
   * {@link #handedOn} and {@link #inDispatch} are read, as those are written before this is read,
   * so that a complete() racing the dispatch's return is waited for by one side or both.
   */
  private volatile BooleanSupplier completed;

  /**
   * The application's {@code complete()} was taken by the container, which reports the cycle's end
   * through the listener. But Tomcat 11 may take a {@code complete()} and never carry it out,
   * calling no listener and never timing the cycle out (see {@code WatchedAsyncContext}). So,
   * {@link #COMPLETE_GRACE} after it, or after the dispatch that called it returns (the handler
   * may go on working until then), the context ends {@link #COMPLETED} if nothing ended it and
   * {@code letGo} says the container has let go of the request; if it has not, the wait starts
   * again. The timer is a child of the request context, stopped when the request ends; its check
   * runs on the thread that ends the grace (the timer's, or the one ending the request).
   *
   * @param letGo whether the container has let go of the request (recycled it)
   */
  void completeTaken(BooleanSupplier letGo) {
    if (ctx.isDone()) {
      return;
    }
    completed = letGo;
    if (handedOn && !inDispatch) {
      waitForTheEnd(letGo);
    }
  }

  /**
   * A dispatch of the request returned with its cycle going on: a {@code complete()} taken during
   * it is now waited for ({@link #completeTaken}), after the request's writers are asked for a
   * failure they swallowed.
   */
  public void dispatchReturned() {
    BooleanSupplier letGo = completed;
    if (letGo != null) {
      writerAtTheEnd(letGo);
      waitForTheEnd(letGo);
    }
  }

  private void waitForTheEnd(BooleanSupplier letGo) {
    if (ctx.isDone()) {
      return;
    }
    CancelableContext grace = Context.withTimeout(ctx, COMPLETE_GRACE);
    Context.afterFunc(grace, () -> graceOver(letGo), Runnable::run);
  }

  private void graceOver(BooleanSupplier letGo) {
    if (ctx.isDone()) {
      return; // the request ended first, which ended the grace
    }
    if (!endIfLetGo(letGo)) {
      waitForTheEnd(letGo);
    }
  }

  /**
   * Ends the context {@link #COMPLETED} if {@code letGo} says the container has let go of the
   * request, unless a dispatch of the request through the filter is running: one is proof that
   * the request goes on, whatever {@code letGo} read (Tomcat refuses its {@code AsyncContext} to
   * an application thread once {@code onError} has returned, the error page still to run).
   *
   * @param letGo whether the container has let go of the request (recycled it)
   * @return whether the context is done
   */
  boolean endIfLetGo(BooleanSupplier letGo) {
    if (!inDispatch && letGo.getAsBoolean()) {
      end(COMPLETED);
    }
    return ctx.isDone();
  }

  /**
   * Creates the state for a request.
   *
   * @param ctx the request context
   */
  public RequestScope(CancelableContext ctx) {
    this(ctx, null);
  }

  /**
   * Creates the state for a request whose context is a child of a shared deadline.
   *
   * @param ctx the request context
   * @param lease the shared deadline {@code ctx} was derived from, taken for this request; null
   *     for none
   */
  public RequestScope(CancelableContext ctx, SharedDeadlines.Entry lease) {
    this.ctx = Objects.requireNonNull(ctx, "ctx");
    this.lease = lease;
  }

  /**
   * Returns the request context.
   *
   * @return the context
   */
  public CancelableContext context() {
    return ctx;
  }

  /**
   * Returns whether the filter is running an ASYNC dispatch of this request.
   *
   * @return true between {@code inDispatch(true)} and {@code inDispatch(false)}
   */
  public boolean inDispatch() {
    return inDispatch;
  }

  /**
   * Marks the start or end of an ASYNC dispatch that the filter runs; dispatch threads only.
   *
   * @param in true at the start, false at the end
   */
  public void inDispatch(boolean in) {
    inDispatch = in;
  }

  /**
   * A read of the body through the filter's stream or reader failed with {@code e}: ends the
   * request as {@link #failed} does, unless the failure is no news of the client (Tomcat's end of
   * the input with an answer given in full, {@link #inputEndedWithTheAnswer}; a malformed body
   * from a client that is still there, {@link ContainerHooks#malformedBody}). The one judgement
   * of both watched readers.
   *
   * @param e what the container's stream or reader threw
   * @param request the request whose body was read
   * @return {@code e}, for the caller to throw
   */
  IOException readFailed(IOException e, jakarta.servlet.ServletRequest request) {
    return inputEndedWithTheAnswer(e) || ContainerHooks.malformedBody(e, request) ? e : failed(e);
  }

  /**
   * Whether {@code e}, a read's failure, is Tomcat 11 ending the request's input with an answer
   * given in full (its output closed through a response over the container's, or as many bytes
   * handed over as it declared): a plain {@code IOException} ("Stream closed") from Tomcat's own
   * input buffer, which says nothing of the client (it is there, or gone: the same exception). A
   * lost client's read fails with another ({@code ClientAbortException}, Jetty's {@code
   * EofException}). The exception's side is {@link ContainerHooks#tomcatInputEnded}.
   */
  boolean inputEndedWithTheAnswer(IOException e) {
    if (!ContainerHooks.tomcatInputEnded(e)) {
      return false;
    }
    if (outClosed || writerClosed) {
      return true;
    }
    long declared =
        containerResponse instanceof jakarta.servlet.http.HttpServletResponse
            ? WatchedResponse.declaredLength(
                (jakarta.servlet.http.HttpServletResponse) containerResponse)
            : -1;
    return declared >= 0 && (written >= declared || writerBytes >= declared);
  }

  /**
   * Ends the request: cancels its context with {@code cause}, unless it is already done. Idempotent.
   *
   * @param cause why
   */
  public void end(RequestCanceledException cause) {
    ctx.cancel(cause);
    // After the cancel: the request's context must end with its own cause, never with the close
    // of a shared deadline that nobody holds any more.
    if (lease != null) {
      SharedDeadlines.Entry e = (SharedDeadlines.Entry) LEASE.getAndSet(this, null);
      if (e != null) {
        e.release();
      }
    }
  }

  /**
   * The container reported a failure of the exchange (Jetty's core failure listener): ends the
   * request with {@link #containerFailure(Throwable)} of it.
   *
   * @param failure what the container reported; may be null
   */
  @Override
  public void accept(Throwable failure) {
    end(containerFailure(failure));
  }

  /**
   * {@link #failure(Throwable)}, except that a lost connection while the server stops is the
   * server's shutdown: Jetty 12.1 closes the connections of requests in flight when it stops its
   * connectors, before the filter's {@code destroy()}, and the request's failure listener, its
   * async listener, or a read or write under way then fails with an {@code EofException}, which
   * said "client disconnected" of a client that was still waiting ({@code ServerStopTest}); and
   * that Jetty's 400 "Early EOF" for a body its client cut ({@link
   * ContainerHooks#cutBodyReported}) is a lost client, not a container failure ({@code
   * ChunkedBodyCutTest}). Every failure of the exchange that the filter judges goes through here.
   */
  RequestCanceledException containerFailure(Throwable failure) {
    RequestCanceledException cause = failure(failure);
    if (cause.reason() == Reason.REQUEST_FAILED
        && ContainerHooks.cutBodyReported(failure, containerResponse)) {
      // Jetty's parser reports some bodies cut by the client as a bad message, not an early EOF.
      cause = new RequestCanceledException(Reason.CLIENT_DISCONNECTED, describe(failure), failure);
    }
    if (cause.reason() == Reason.CLIENT_DISCONNECTED
        && ContainerHooks.serverStopping(containerResponse)) {
      return new RequestCanceledException(Reason.SERVER_SHUTDOWN, "the server is stopping", failure);
    }
    return cause;
  }

  /**
   * Registers this scope as a listener of the request's async cycle, once per request; later
   * cycles are followed through {@link #onStartAsync}. Called as soon as the handler starts async
   * through the filter's request ({@link ScopedRequest#startAsync}), before the application can
   * add listeners of its own, so that the context has ended by the time those hear of a timeout
   * or an error; and again when the dispatch returns, for a cycle started otherwise.
   *
   * @param async the async context of the current cycle
   * @throws RuntimeException as thrown by {@code addListener}; the listener then counts as not
   *     registered
   */
  public void listenTo(AsyncContext async) {
    if (!listening) {
      async.addListener(this);
      listening = true;
    }
  }

  /**
   * Returns true the first time it is called: the dispatch returning is the first to leave the
   * request in async, and hands it on to the cycle.
   *
   * @return whether this is the first call
   */
  public boolean handOn() {
    if (!handedOn) {
      handedOn = true;
      return true;
    }
    return false;
  }

  /**
   * A read or a write of the exchange through one of the filter's wrappers (the request body, the
   * response) failed: ends the request with {@link #failure(Throwable)} of {@code e}, a lost
   * client or a timeout of the container's, before the caller sees the exception. The one place
   * the wrappers turn a failed I/O call into the end of the request.
   *
   * @param e what the container's stream, reader or response threw
   * @return {@code e}, for the caller to throw
   */
  public IOException failed(IOException e) {
    end(containerFailure(e));
    return e;
  }

  /**
   * A call that made the container read the request body itself ({@code getParameter} of a form,
   * {@code getParts}) threw {@code e}: ends the request if the read failed because the exchange
   * did, before the caller sees {@code e}. The containers report that read's failure wrapped, in
   * exceptions that also report a body that is merely malformed (Jetty 12.1's 400 {@code
   * HttpException}s, Tomcat 11's {@code InvalidParameterException}, and for multipart Tomcat's
   * {@code FileUploadException}, an {@code IOException}; Jetty's multipart parser reports a body
   * without its closing boundary as a plain {@code EOFException}). So the exchange failed only
   * where the chain holds a timeout (as in {@link #failure}: {@link Reason#REQUEST_FAILED}), or
   * the socket's own failure (a {@link java.net.SocketException}, a reset) or the container's own
   * report of a lost connection (Jetty's {@code org.eclipse.jetty.io.EofException}, Tomcat's
   * {@code org.apache.catalina.connector.ClientAbortException}, told by name, so that neither
   * container's classes are loaded): {@link Reason#CLIENT_DISCONNECTED}. A malformed body from a
   * client that is still there ends nothing.
   *
   * @param e what the container's call threw
   */
  public void bodyFailed(Throwable e) {
    Reason reason = exchangeFailure(e, false);
    if (reason != null) {
      end(new RequestCanceledException(reason, describe(e), e));
    }
  }

  /**
   * What {@code failure}'s chain says of the exchange: {@link Reason#REQUEST_FAILED} if it holds a
   * timeout, else {@link Reason#CLIENT_DISCONNECTED} if it holds a lost connection (any {@link
   * IOException} if {@code anyIoException}, else those {@link #bodyFailed} names), else null.
   */
  private static Reason exchangeFailure(Throwable failure, boolean anyIoException) {
    // The timeout first, wherever it lies: one under an IOException (Jetty's read that timed out,
    // Tomcat's ClientAbortException of a SocketTimeoutException) is still a timeout.
    if (findCause(failure, RequestScope::timeout) != null) {
      return Reason.REQUEST_FAILED;
    }
    return findCause(failure, anyIoException ? RequestScope::io : ContainerHooks::lostConnection)
            != null
        ? Reason.CLIENT_DISCONNECTED
        : null;
  }

  /** How many links of a cause chain are looked at: a chain may be cyclic, or long. */
  private static final int CAUSE_LINKS = 16;

  /**
   * Returns the first of the first {@link #CAUSE_LINKS} links of {@code failure}'s cause chain,
   * {@code failure} first, that {@code test} accepts, or null. A {@code getCause} that throws ends
   * the walk: what lies beyond it is taken as absent.
   */
  static Throwable findCause(Throwable failure, Predicate<Throwable> test) {
    try {
      Throwable x = failure;
      for (int i = 0; i < CAUSE_LINKS && x != null; i++, x = x.getCause()) {
        if (test.test(x)) {
          return x;
        }
      }
    } catch (Throwable hostile) {
      // An overridden getCause that throws (or overflows the stack).
    }
    return null;
  }

  /**
   * Whether {@code x} is the container giving up, not the client going: a {@link
   * TimeoutException} (Jetty's idle timeout), a {@link SocketTimeoutException} (Tomcat over
   * HTTP/1.1), or Tomcat 11's own timeout of an HTTP/2 stream ({@link
   * ContainerHooks#tomcatStreamTimeout}).
   */
  private static boolean timeout(Throwable x) {
    return x instanceof TimeoutException
        || x instanceof SocketTimeoutException
        || ContainerHooks.tomcatStreamTimeout(x);
  }

  private static boolean io(Throwable x) {
    return x instanceof IOException;
  }

  /**
   * Returns the cause for a failure the container reported: {@link Reason#REQUEST_FAILED} if it is
   * or is caused by a timeout (a {@link TimeoutException}, as Jetty reports an idle timeout, or a
   * {@link SocketTimeoutException}, as Tomcat does: the container gave up waiting, which says
   * nothing of the client), else {@link Reason#CLIENT_DISCONNECTED} if it is or is caused by an
   * {@link IOException}, which is how containers report a connection that failed or a stream that
   * was reset; otherwise {@link Reason#REQUEST_FAILED}.
   *
   * @param failure what the container reported; may be null
   * @return the cause to cancel with
   */
  public static RequestCanceledException failure(Throwable failure) {
    if (failure == null) {
      return new RequestCanceledException(Reason.CLIENT_DISCONNECTED, null, null);
    }
    Reason found = exchangeFailure(failure, true);
    Reason reason = found == null ? Reason.REQUEST_FAILED : found;
    return new RequestCanceledException(reason, describe(failure), failure);
  }

  /**
   * Returns the cause for a throwable of the application's own: from the handler, or from a
   * listener it set on the request's streams. {@link Reason#HANDLER_FAILED}, whatever it is: an
   * {@code IOException} of the application's (a backend that refused it, an upload that could not
   * be stored) is no lost client, though the container hands it to {@code onError} as it would one.
   *
   * @param failure what the application threw
   * @return the cause to cancel with
   */
  public static RequestCanceledException handlerFailed(Throwable failure) {
    return new RequestCanceledException(Reason.HANDLER_FAILED, describe(failure), failure);
  }

  /**
   * Returns {@code t.toString()}, or its class name if that throws: an exception whose own
   * {@code getMessage} fails must not keep the request it ends from ending.
   *
   * @param t a throwable
   * @return a one-line description, never null
   */
  public static String describe(Throwable t) {
    try {
      return String.valueOf(t.toString());
    } catch (Throwable hostile) {
      return t.getClass().getName() + " (its toString threw " + hostile.getClass().getName() + ")";
    }
  }

  /** The async cycle completed: the request is over. */
  @Override
  public void onComplete(AsyncEvent event) {
    end(COMPLETED);
  }

  /** The async timeout fired. */
  @Override
  public void onTimeout(AsyncEvent event) {
    end(new RequestCanceledException(Reason.ASYNC_TIMEOUT, null, null));
  }

  /**
   * Records that the application sent an error answer ({@code sendError} through the filter's
   * response returned). Any thread.
   */
  public void errorSent() {
    errorSent = true;
  }

  /**
   * The container reported an error on the async cycle (a disconnect, a reset, a failed write),
   * unless it reports no throwable after the application's own {@code sendError}: Tomcat 11 does
   * that when it dispatches a response in error (then runs the error page and completes the cycle,
   * which ends the context, {@code onComplete}); taken for a lost client, it ended the context
   * {@code client disconnected} while the client got its whole error page. Nor a malformed body
   * from a client that is still there ({@link ContainerHooks#malformedBody}): Tomcat 11 reports a
   * {@code ReadListener}'s read of one here too, after the listener's {@code onError}.
   */
  @Override
  public void onError(AsyncEvent event) {
    Throwable t = event.getThrowable();
    if (t == null && errorSent) {
      return;
    }
    if (t != null && ContainerHooks.malformedBody(t, event.getSuppliedRequest())) {
      return;
    }
    end(containerFailure(t));
  }

  /** A new async cycle started: listeners of the old one are dropped by the container, so rejoin. */
  @Override
  public void onStartAsync(AsyncEvent event) {
    AsyncContext next = event.getAsyncContext();
    if (next != null) {
      next.addListener(this);
    }
  }
}
