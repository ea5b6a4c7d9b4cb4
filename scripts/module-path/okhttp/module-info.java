module io.ctx4j.smoke.okhttp {
  requires io.ctx4j.okhttp;
}
