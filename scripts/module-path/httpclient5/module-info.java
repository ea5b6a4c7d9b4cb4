module io.ctx4j.smoke.httpclient5 {
  requires io.ctx4j.httpclient5;
}
