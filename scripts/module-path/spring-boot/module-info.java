module io.ctx4j.smoke.spring.boot {
  requires io.ctx4j.spring.boot;
}
