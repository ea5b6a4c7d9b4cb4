/**
 * ctx4j: Go's {@code context} package for Java. Everything public is in package {@code io.ctx4j};
 * start with {@link io.ctx4j.Context}.
 */
// "module": the modules named in the qualified export are built after the core, so javac cannot
// see them here.
@SuppressWarnings("module")
module io.ctx4j {
  exports io.ctx4j;
  // Not API: the internal accessor (io.ctx4j.internal.CoreInternals) for the ctx4j integrations
  // that share the core's helpers instead of copying them. Qualified, so no other module sees it.
  exports io.ctx4j.internal to
      io.ctx4j.concurrent,
      io.ctx4j.jdbc,
      io.ctx4j.http,
      io.ctx4j.grpc,
      io.ctx4j.servlet,
      io.ctx4j.okhttp,
      io.ctx4j.httpclient5,
      io.ctx4j.spring.boot;
}
