module io.ctx4j.smoke.http {
  requires io.ctx4j.http;
}
