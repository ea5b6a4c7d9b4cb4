module io.ctx4j.smoke.signal {
  requires io.ctx4j.signal;
}
