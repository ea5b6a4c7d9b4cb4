package io.ctx4j.servlet;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/** A servlet that runs whatever handler the test gives it. */
final class TestServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  @FunctionalInterface
  interface Handler {
    void handle(HttpServletRequest req, HttpServletResponse res) throws Exception;
  }

  private final transient Handler handler;

  TestServlet(Handler handler) {
    this.handler = handler;
  }

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse res) {
    try {
      handler.handle(req, res);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
