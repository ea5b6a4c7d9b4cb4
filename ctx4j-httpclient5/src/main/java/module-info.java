/**
 * ctx4j-httpclient5: Apache HttpClient 5 classic requests under a ctx4j context. Start with {@link
 * io.ctx4j.httpclient5.ContextHttpClient5}.
 */
module io.ctx4j.httpclient5 {
  requires transitive io.ctx4j;
  requires io.ctx4j.concurrent;
  requires io.ctx4j.http;
  // HttpClient 5 and HttpCore 5 are automatic modules (Automatic-Module-Name in their manifests).
  requires transitive org.apache.httpcomponents.client5.httpclient5;
  requires transitive org.apache.httpcomponents.core5.httpcore5;

  exports io.ctx4j.httpclient5;
}
