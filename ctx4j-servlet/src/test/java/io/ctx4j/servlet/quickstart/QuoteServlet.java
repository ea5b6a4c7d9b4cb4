package io.ctx4j.servlet.quickstart;

// README Quick start, second class: keep the two in sync.
// snippet:start servlet
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

public class QuoteServlet extends HttpServlet {
  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    Context ctx = CurrentContext.get();  // the request context (ContextServletFilter.contextOf(req) too)
    String left = ctx.remaining().map(d -> d.toMillis() + " ms left").orElse("no deadline");
    resp.getWriter().print(left);        // pass ctx to every call that may block: it ends with the request
  }
}
// snippet:end servlet
