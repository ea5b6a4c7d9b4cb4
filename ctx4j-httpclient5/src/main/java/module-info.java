/**
 * ctx4j-httpclient5: Apache HttpClient 5 classic requests under a ctx4j context. Start with {@link
 * io.ctx4j.httpclient5.ContextHttpClient5}.
 */
// HttpClient 5 and HttpCore 5 ship automatic modules; their types are in this module's API. The
// module's name follows the library's (org.apache.httpcomponents.client5.httpclient5), though
// javac's lint would have module names end without digits.
@SuppressWarnings({"module", "requires-automatic", "requires-transitive-automatic"})
module io.ctx4j.httpclient5 {
  requires transitive io.ctx4j;
  requires io.ctx4j.concurrent;
  requires io.ctx4j.http;
  requires transitive org.apache.httpcomponents.client5.httpclient5;
  requires transitive org.apache.httpcomponents.core5.httpcore5;
  // Not used here: HttpClient 5 uses jdk.net.Sockets, and as an automatic module it cannot say so.
  // Without this, the module path resolves no jdk.net, and the first HttpClientBuilder.build()
  // fails with NoClassDefFoundError: jdk/net/Sockets (scripts/module-path-check.sh).
  requires jdk.net;

  exports io.ctx4j.httpclient5;
}
