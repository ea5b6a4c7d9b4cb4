module io.ctx4j.smoke.servlet {
  requires io.ctx4j.servlet;
}
