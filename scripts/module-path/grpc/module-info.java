module io.ctx4j.smoke.grpc {
  requires io.ctx4j.grpc;
}
