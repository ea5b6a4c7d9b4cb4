/**
 * ctx4j-grpc: deadlines and cancellation across grpc-java calls, both ways. Start with
 * {@link io.ctx4j.grpc.GrpcContexts}.
 */
// grpc-java ships automatic modules (io.grpc, io.grpc.stub); its types are in this module's API.
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.ctx4j.grpc {
  requires transitive io.ctx4j;
  requires transitive io.grpc;
  requires transitive io.grpc.stub;

  exports io.ctx4j.grpc;
}
