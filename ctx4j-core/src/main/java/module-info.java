/**
 * ctx4j: Go's {@code context} package for Java. Everything public is in package {@code io.ctx4j};
 * start with {@link io.ctx4j.Context}.
 */
module io.ctx4j {
  exports io.ctx4j;
}
