/**
 * ctx4j-http: deadline propagation and cancellation over {@code java.net.http} and the JDK
 * {@code HttpServer}. Start with {@link io.ctx4j.http.ContextHttp} and
 * {@link io.ctx4j.http.ContextFilter}.
 */
module io.ctx4j.http {
  requires transitive io.ctx4j;
  requires transitive java.net.http;
  requires transitive jdk.httpserver;

  exports io.ctx4j.http;
}
