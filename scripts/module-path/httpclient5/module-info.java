// Named after the module it requires, io.ctx4j.httpclient5; javac's lint would have module names
// end without digits.
@SuppressWarnings("module")
module io.ctx4j.smoke.httpclient5 {
  requires io.ctx4j.httpclient5;
}
