/**
 * ctx4j-http: deadline propagation and cancellation over {@code java.net.http} and the JDK
 * {@code HttpServer}. Start with {@link io.ctx4j.http.ContextHttp} and
 * {@link io.ctx4j.http.ContextFilter}.
 */
// "module": the modules named in the qualified export are built after this one, so javac cannot
// see them here.
@SuppressWarnings("module")
module io.ctx4j.http {
  requires transitive io.ctx4j;
  requires io.ctx4j.concurrent;
  requires transitive java.net.http;
  requires transitive jdk.httpserver;

  exports io.ctx4j.http;
  // Not API: the client integrations' shared rule for an ended context (ClientFailures).
  exports io.ctx4j.http.internal to
      io.ctx4j.okhttp,
      io.ctx4j.httpclient5;
}
