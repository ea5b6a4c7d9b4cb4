/**
 * ctx4j-okhttp: OkHttp 5 calls under a ctx4j context. Start with {@link
 * io.ctx4j.okhttp.ContextOkHttp}.
 */
module io.ctx4j.okhttp {
  requires transitive io.ctx4j;
  requires io.ctx4j.concurrent;
  requires io.ctx4j.http;
  // OkHttp 5's own module (okhttp-jvm's module-info); it requires okio and kotlin.stdlib.
  requires transitive okhttp3;

  exports io.ctx4j.okhttp;
}
