package io.ctx4j.servlet.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * The request scope's handling of failures the container reports: they come from outside (an
 * application's exception passed on by the container), and whatever their own methods do, the
 * request must end.
 */
class RequestScopeTest {
  /** An exception whose {@code getMessage}, hence {@code toString}, throws. */
  private static final class Unprintable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unprintable(Throwable cause) {
      super(cause);
    }

    @Override
    public String getMessage() {
      throw new IllegalStateException("no message");
    }
  }

  /** An exception whose {@code getCause} throws. */
  private static final class NoCause extends RuntimeException {
    private static final long serialVersionUID = 1L;

    @Override
    public synchronized Throwable getCause() {
      throw new IllegalStateException("no cause");
    }
  }

  @Test
  void aFailureThatCannotDescribeItselfIsStillACause() {
    Unprintable failed = new Unprintable(null);
    RequestCanceledException cause = RequestScope.failure(failed);
    assertEquals(Reason.REQUEST_FAILED, cause.reason());
    assertSame(failed, cause.getCause());
    assertTrue(cause.getMessage().contains(Unprintable.class.getName()), cause.getMessage());
    assertTrue(cause.getMessage().contains("IllegalStateException"), cause.getMessage());
  }

  @Test
  void aDisconnectUnderAnUndescribableFailureIsStillADisconnect() {
    Unprintable failed = new Unprintable(new IOException("reset"));
    assertEquals(Reason.CLIENT_DISCONNECTED, RequestScope.failure(failed).reason());
  }

  @Test
  void aFailureWhoseCauseCannotBeReadIsARequestFailure() {
    NoCause failed = new NoCause();
    RequestCanceledException cause = RequestScope.failure(failed);
    assertEquals(Reason.REQUEST_FAILED, cause.reason());
    assertSame(failed, cause.getCause());
  }

  @Test
  void theContainersReportOfSuchAFailureEndsTheRequest() {
    for (RuntimeException failed : new RuntimeException[] {new Unprintable(null), new NoCause()}) {
      CancelableContext ctx = Context.withCancel(Context.background());
      RequestScope scope = new RequestScope(ctx);
      scope.accept(failed);
      assertTrue(ctx.isDone(), failed.getClass().getSimpleName());
      assertSame(failed, ctx.cause().getCause());
    }
  }
}
