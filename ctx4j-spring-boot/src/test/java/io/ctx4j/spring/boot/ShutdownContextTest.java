package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.Banner;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.support.GenericApplicationContext;

/**
 * A {@link ShutdownContext} that its application context does not make and tell of itself: added
 * by hand as a listener, registered with {@code registerSingleton} after the refresh, in a real
 * {@link GenericApplicationContext} (and a real parent/child hierarchy of them). Whatever way it
 * entered, the close of its own application context must end it, and must not hang; a child's close
 * must not.
 */
@Timeout(60)
class ShutdownContextTest {

  private static String message(ShutdownContext shutdown) {
    RequestCanceledException cause =
        assertInstanceOf(RequestCanceledException.class, shutdown.context().cause());
    assertEquals(RequestCanceledException.Reason.SERVER_SHUTDOWN, cause.reason());
    return cause.getMessage();
  }

  /**
   * A listener added by hand and started by hand: no lifecycle of the application context will
   * ever stop it, so the close event must end it, not wait for a {@code stop()} that never comes.
   */
  @Test
  void aListenerAddedAndStartedByHandEndsAtTheClose() {
    GenericApplicationContext app = new GenericApplicationContext();
    app.refresh();
    ShutdownContext listening = new ShutdownContext();
    app.addApplicationListener(listening);
    listening.start();
    app.close(); // returns: nothing waits for the stop either
    assertTrue(listening.context().isDone(), "the close left the context of a listener started by hand live");
    assertEquals("server shutdown: " + ShutdownContext.NOT_A_BEAN_CLOSE_DETAIL, message(listening));
  }

  /**
   * A parent application context with a {@code ShutdownContext} added as a listener by hand, and
   * a child: the child's close event reaches the parent's listeners too, and must not end the
   * parent's shutdown context (cancelling every request under it); the parent's close must. The
   * child refreshed after the listener was added (its refresh event reaches the listener first),
   * or before.
   */
  @Test
  void aChildsCloseDoesNotEndAShutdownContextAddedToItsParentByHand() {
    for (boolean childFirst : new boolean[] {false, true}) {
      String row = childFirst ? "the child refreshed before the listener was added" : "the child refreshed after";
      GenericApplicationContext parent = new GenericApplicationContext();
      parent.refresh();
      GenericApplicationContext child = new GenericApplicationContext(parent);
      if (childFirst) {
        child.refresh();
      }
      ShutdownContext shutdown = new ShutdownContext();
      parent.addApplicationListener(shutdown);
      if (!childFirst) {
        child.refresh();
      }
      child.close();
      assertFalse(shutdown.context().isDone(), row + ": a child's close ended its parent's shutdown context: "
          + shutdown.context().cause());
      parent.close();
      assertTrue(shutdown.context().isDone(), row + ": the parent's close did not end its shutdown context");
      assertEquals("server shutdown: " + ShutdownContext.NOT_A_BEAN_CLOSE_DETAIL, message(shutdown), row);
    }
  }

  /** An empty application: the parent and the child of a Spring Boot hierarchy. */
  @Configuration(proxyBeanMethods = false)
  static class Empty {}

  /**
   * The same with Spring Boot's hierarchy: a {@code ShutdownContext} given to the parent
   * application as a listener ({@code SpringApplicationBuilder.listeners}, which adds it to the
   * parent's application context by hand before its refresh, so that the parent's refresh event
   * reaches it first), started by hand, a child application under it.
   */
  @Test
  void aChildApplicationsCloseDoesNotEndAShutdownContextGivenToItsParentAsAListener() {
    ShutdownContext shutdown = new ShutdownContext();
    SpringApplicationBuilder parentBuilder = new SpringApplicationBuilder(Empty.class)
        .web(WebApplicationType.NONE)
        .bannerMode(Banner.Mode.OFF)
        .logStartupInfo(false)
        .listeners(shutdown);
    ConfigurableApplicationContext child = parentBuilder
        .child(Empty.class)
        .web(WebApplicationType.NONE)
        .bannerMode(Banner.Mode.OFF)
        .logStartupInfo(false)
        .run();
    ConfigurableApplicationContext parent = (ConfigurableApplicationContext) child.getParent();
    shutdown.start(); // started by hand, too: no lifecycle stops it
    child.close();
    assertFalse(shutdown.context().isDone(), "a child application's close ended its parent's shutdown context: "
        + shutdown.context().cause());
    parent.close();
    assertTrue(shutdown.context().isDone(), "the parent application's close did not end its shutdown context");
    assertEquals("server shutdown: " + ShutdownContext.NOT_A_BEAN_CLOSE_DETAIL, message(shutdown));
  }
}
