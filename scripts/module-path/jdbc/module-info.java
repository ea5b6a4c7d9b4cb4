module io.ctx4j.smoke.jdbc {
  requires io.ctx4j.jdbc;
}
