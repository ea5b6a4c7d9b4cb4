package io.ctx4j.smoke.servlet;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.ContextServletFilter;
import io.ctx4j.servlet.RequestCanceledException;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Module-path smoke test of io.ctx4j.servlet, with the Servlet API and without Jetty: one request
 * (a stand-in for the container's, there being no container on this path) gets a context with the
 * caller's deadline, current in the chain, ended when the chain returns.
 */
public final class Main {
  public static void main(String[] args) throws Exception {
    Map<String, Object> attributes = new HashMap<>();
    HttpServletRequest request = (HttpServletRequest) Proxy.newProxyInstance(
        Main.class.getClassLoader(), new Class<?>[] {HttpServletRequest.class},
        (proxy, method, a) -> {
          switch (method.getName()) {
            case "getAttribute": return attributes.get((String) a[0]);
            case "setAttribute": attributes.put((String) a[0], a[1]); return null;
            // The filter asks getHeader first (a cheap test for an absent header), then getHeaders.
            case "getHeader":
              return "Ctx4j-Timeout-Ms".equalsIgnoreCase((String) a[0]) ? "60000" : null;
            case "getHeaders":
              return Collections.enumeration(
                  "Ctx4j-Timeout-Ms".equalsIgnoreCase((String) a[0]) ? List.of("60000") : List.<String>of());
            case "getDispatcherType": return DispatcherType.REQUEST;
            case "isAsyncStarted": return false;
            case "hashCode": return System.identityHashCode(proxy);
            case "equals": return proxy == a[0];
            default: return null;
          }
        });
    HttpServletResponse response = (HttpServletResponse) Proxy.newProxyInstance(
        Main.class.getClassLoader(), new Class<?>[] {HttpServletResponse.class},
        (proxy, method, a) -> {
          switch (method.getName()) {
            case "hashCode": return System.identityHashCode(proxy);
            case "getStatus": return 200; // the filter hands the context on for an error status only
            default: return null;
          }
        });
    ContextServletFilter filter = ContextServletFilter.create();
    AtomicReference<Context> seen = new AtomicReference<>();
    filter.doFilter(request, response, (req, res) -> seen.set(CurrentContext.get()));
    Context ctx = seen.get();
    if (ctx == null || ctx.deadline().isEmpty()) throw new AssertionError("no request context with a deadline");
    if (!(ctx.cause() instanceof RequestCanceledException)) throw new AssertionError("not ended: " + ctx.cause());
    // A request that stays synchronous and succeeds leaves no attribute in the container.
    if (!attributes.isEmpty()) throw new AssertionError("attributes left in the container: " + attributes);
    filter.destroy();
    System.out.println("io.ctx4j.servlet ok");
  }
}
