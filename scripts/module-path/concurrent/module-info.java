module io.ctx4j.smoke.concurrent {
  requires io.ctx4j.concurrent;
}
