module io.ctx4j.smoke.core {
  requires io.ctx4j;
}
